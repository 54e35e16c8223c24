// Fit every block in view from the blocks' own sizes. React Flow's fitView only counts
// blocks it has measured, and with visible-only rendering most are never measured.
import { getViewportForBounds, type ReactFlowInstance } from '@xyflow/react'
import type { ArborEdge, ArborNode } from '../sync/bindings'

export interface Box { x: number; y: number; width: number; height: number }

/** The box around all nodes (position + their width/height), or null when there are none. */
export function boundsOf(nodes: readonly { position: { x: number; y: number }; width?: number; height?: number }[]): Box | null {
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

export function fitAll(flow: ReactFlowInstance<ArborNode, ArborEdge>, duration = 0): void {
  const box = boundsOf(flow.getNodes())
  const pane = document.querySelector('.react-flow')?.getBoundingClientRect()
  if (!box || !pane) return
  const vp = getViewportForBounds(box, pane.width, pane.height, 0.1, 1.2, 0.2)
  void flow.setViewport(vp, { duration })
}
