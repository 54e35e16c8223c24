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
/** On a phone-narrow pane the text must be larger to be read: a fit goes no further out. */
export const PHONE_READABLE_ZOOM = 0.7

/** The least zoom a fit uses in a pane this wide. */
export function readableZoom(pane: { width: number }): number {
  return pane.width < 600 ? PHONE_READABLE_ZOOM : READABLE_ZOOM
}
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
  const readable = readableZoom(pane)
  if (!all || zoomToFit(all, pane) >= readable) return all
  const newest = [...nodes].sort((a, b) => (b.data?.createdAt ?? 0) - (a.data?.createdAt ?? 0))
  let box = boundsOf(newest.slice(0, 1)) as Box
  for (const n of newest.slice(1)) {
    const next = grow(box, n)
    if (zoomToFit(next, pane) < readable) continue
    box = next
  }
  return box
}

export interface FitView { x: number; y: number; zoom: number }

/**
 * The viewport that fits `box` in a pane whose bottom `reserve` pixels are covered (the
 * minimap, the zoom buttons): centred above them. When the fit is not the whole canvas
 * (`whole` false) the box starts at the pane's left edge, a little in, so the blocks left
 * of it are out of view instead of showing cut off there (a phone shows a few blocks).
 */
export function fitViewport(box: Box, pane: { width: number; height: number }, reserve = 0,
  whole = true): FitView {
  const height = Math.max(pane.height * 0.5, pane.height - reserve)
  const vp = getViewportForBounds(box, pane.width, height, readableZoom(pane), MAX_FIT_ZOOM,
    PADDING)
  if (whole) return vp
  const margin = Math.min(16, Math.max(0, (pane.width - box.width * vp.zoom) / 2))
  return { ...vp, x: margin - box.x * vp.zoom }
}

/**
 * How many pixels at the bottom of `pane` the minimap and the zoom buttons cover (0 for
 * those not shown): a fit or a glide keeps blocks above them, never under them.
 */
export function coveredBelow(pane: DOMRect): number {
  let covered = 0
  for (const el of document.querySelectorAll('.react-flow__minimap, .react-flow__controls')) {
    const r = el.getBoundingClientRect()
    if (r.width === 0 || r.height === 0) continue
    covered = Math.max(covered, pane.bottom - r.top)
  }
  return Math.min(covered, pane.height * 0.5)
}

export function fitAll(flow: ReactFlowInstance<ArborNode, ArborEdge>, duration = 0): void {
  const pane = document.querySelector('.react-flow')?.getBoundingClientRect()
  const nodes = flow.getNodes()
  const box = pane ? fitTarget(nodes, pane) : null
  if (!box || !pane) return
  const all = boundsOf(nodes)
  const whole = !!all && box.x <= all.x && box.x + box.width >= all.x + all.width
  void flow.setViewport(fitViewport(box, pane, coveredBelow(pane), whole), { duration })
}
