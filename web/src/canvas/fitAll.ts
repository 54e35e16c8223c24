// "Fit view" from the blocks' own sizes. React Flow's fitView only counts blocks it has
// measured, and with visible-only rendering most are never measured. It never zooms out
// past a readable size: a canvas too large for that fits its selection, or its newest work.
import { getViewportForBounds, type ReactFlowInstance } from '@xyflow/react'
import type { ArborEdge, ArborNode } from '../sync/bindings'

export interface Box { x: number; y: number; width: number; height: number }
interface Sized { position: { x: number; y: number }; width?: number; height?: number }
interface Fittable extends Sized { selected?: boolean; data?: { createdAt?: number | null } }

/** Below this zoom a block's text cannot be read: "Fit view" goes no further out. */
export const READABLE_ZOOM = 0.35
export const MAX_FIT_ZOOM = 1.2
const PADDING = 0.15

/** The box around all nodes (position + their width/height), or null when there are none. */
export function boundsOf(nodes: readonly Sized[]): Box | null {
  if (nodes.length === 0) return null
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity
  for (const n of nodes) {
    x0 = Math.min(x0, n.position.x)
    y0 = Math.min(y0, n.position.y)
    x1 = Math.max(x1, n.position.x + (n.width ?? 0))
    y1 = Math.max(y1, n.position.y + (n.height ?? 0))
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }
}

/** The zoom at which `box` just fits a pane of this size (with the fit's padding). */
export function zoomToFit(box: Box, pane: { width: number; height: number }): number {
  return Math.min(pane.width / Math.max(1, box.width * (1 + PADDING)),
    pane.height / Math.max(1, box.height * (1 + PADDING)))
}

function grow(b: Box, n: Sized): Box {
  const x1 = Math.max(b.x + b.width, n.position.x + (n.width ?? 0))
  const y1 = Math.max(b.y + b.height, n.position.y + (n.height ?? 0))
  const x = Math.min(b.x, n.position.x)
  const y = Math.min(b.y, n.position.y)
  return { x, y, width: x1 - x, height: y1 - y }
}

/**
 * What "Fit view" shows: the selected blocks if any; else everything, if that can be read;
 * else the newest blocks, as many as fit at a readable zoom (at least the newest one).
 */
export function fitTarget(nodes: readonly Fittable[], pane: { width: number; height: number }): Box | null {
  const selected = nodes.filter((n) => n.selected)
  if (selected.length) return boundsOf(selected)
  const all = boundsOf(nodes)
  if (!all || zoomToFit(all, pane) >= READABLE_ZOOM) return all
  const newest = [...nodes].sort((a, b) => (b.data?.createdAt ?? 0) - (a.data?.createdAt ?? 0))
  let box = boundsOf(newest.slice(0, 1)) as Box
  for (const n of newest.slice(1)) {
    const next = grow(box, n)
    if (zoomToFit(next, pane) < READABLE_ZOOM) continue
    box = next
  }
  return box
}

export function fitAll(flow: ReactFlowInstance<ArborNode, ArborEdge>, duration = 0): void {
  const pane = document.querySelector('.react-flow')?.getBoundingClientRect()
  const box = pane ? fitTarget(flow.getNodes(), pane) : null
  if (!box || !pane) return
  const vp = getViewportForBounds(box, pane.width, pane.height, READABLE_ZOOM, MAX_FIT_ZOOM, PADDING)
  void flow.setViewport(vp, { duration })
}
