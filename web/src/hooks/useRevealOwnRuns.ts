import { useEffect } from 'react'
import { useReactFlow } from '@xyflow/react'
import type * as Y from 'yjs'
import { useArbor } from './useArbor'
import type { ArborEdge, ArborNode } from '../sync/bindings'
import { DEFAULT_SIZE } from '../sync/schema'
import { boundsOf, coveredBelow } from '../canvas/fitAll'
import { revealViewport } from '../canvas/reveal'

/** The part of the canvas a person can see: the pane less a side panel open over it and
 * the strip the minimap and zoom buttons cover at its bottom. */
function visiblePane(): { width: number; height: number } | null {
  const pane = document.querySelector('.react-flow')?.getBoundingClientRect()
  if (!pane) return null
  const side = document.querySelector('.side-panels')?.getBoundingClientRect()
  const covered = side && side.width > 0 && side.width < pane.width * 0.6 ? pane.right - side.left : 0
  return { width: pane.width - Math.max(0, covered), height: pane.height - coveredBelow(pane) }
}

/**
 * When this person starts a run (its output blocks made here, in their own transaction)
 * and the outputs would land out of view, the view glides to show them. Someone else's
 * run never moves this person's view.
 */
export function useRevealOwnRuns(): void {
  const { conn } = useArbor()
  const flow = useReactFlow<ArborNode, ArborEdge>()
  useEffect(() => {
    let frame = 0
    const fresh = new Set<string>()
    const reveal = () => {
      frame = 0
      const rects = Array.from(fresh, (id) => conn.blocks.get(id)).filter((b) => b != null).map((b) => {
        const kind = b.get('kind') === 'image' ? 'image' : 'text'
        const n = (k: string, d: number) => { const v = b.get(k); return typeof v === 'number' ? v : d }
        return { position: { x: n('x', 0), y: n('y', 0) }, width: n('w', DEFAULT_SIZE[kind].w), height: n('h', DEFAULT_SIZE[kind].h) }
      })
      fresh.clear()
      const box = boundsOf(rects)
      const pane = visiblePane()
      if (!box || !pane) return
      const vp = revealViewport(flow.getViewport(), pane, box)
      if (vp) void flow.setViewport(vp, { duration: 450 })
    }
    const onBlocks = (e: Y.YMapEvent<Y.Map<unknown>>) => {
      if (e.transaction.origin !== conn.localOrigin) return
      e.changes.keys.forEach((change, id) => {
        const b = change.action === 'add' ? conn.blocks.get(id) : undefined
        if (b && b.get('tool') && b.get('status') === 'queued') fresh.add(id)
      })
      if (fresh.size && !frame) frame = requestAnimationFrame(reveal)
    }
    conn.blocks.observe(onBlocks)
    return () => {
      conn.blocks.unobserve(onBlocks)
      if (frame) cancelAnimationFrame(frame)
    }
  }, [conn, flow])
}
