// A text block's body that grows with its text (up to GROW_MAX, never over a block below),
// then scrolls inside with a fade at the bottom saying there is more.
import { useEffect, useRef, useState, type ReactNode } from 'react'
import type * as Y from 'yjs'
import { useArbor } from '../hooks/useArbor'
import { grownHeight } from '../sync/growth'
import { growBlock } from '../sync/mutations'
import type { Rect } from '../sync/runTool'
import { DEFAULT_SIZE } from '../sync/schema'
import './growth.css'

const scrollerOf = (el: HTMLElement | null): HTMLElement | null =>
  el?.querySelector<HTMLElement>('.cm-scroller') ?? el?.querySelector<HTMLElement>('.text-view') ?? null

function rectOf(b: Y.Map<unknown>): Rect {
  const n = (k: string, d: number) => { const v = b.get(k); return typeof v === 'number' && Number.isFinite(v) ? v : d }
  return { x: n('x', 0), y: n('y', 0), w: n('w', DEFAULT_SIZE.text.w), h: n('h', DEFAULT_SIZE.text.h) }
}

export function GrowingText({ id, ytext, author, children }: {
  id: string; ytext: Y.Text | null; author: string | null; children: ReactNode
}) {
  const { conn, readOnly, identity } = useArbor()
  const box = useRef<HTMLDivElement>(null)
  const [more, setMore] = useState(false)
  // Until when a change of the text may grow the block (the text is drawn a moment after it
  // changes: the growth is measured on the drawing, not on the change).
  const growUntil = useRef(0)

  // Grow when the text changes here, or streams into a block this person's run made (not
  // for everyone who watches: one writer is enough, and a view link cannot write).
  useEffect(() => {
    if (!ytext || readOnly) return
    const onText = (_: Y.YTextEvent, tr: Y.Transaction) => {
      if (tr.local || (author != null && author === identity.id)) growUntil.current = performance.now() + 1000
    }
    ytext.observe(onText)
    return () => ytext.unobserve(onText)
  }, [ytext, readOnly, author, identity.id])

  useEffect(() => {
    const el = box.current
    if (!el) return
    let frame = 0
    let watched: HTMLElement | null = null
    const grow = (s: HTMLElement) => {
      const block = conn.blocks.get(id)
      if (!block) return
      const others: Rect[] = []
      conn.blocks.forEach((b, other) => { if (other !== id) others.push(rectOf(b)) })
      const h = grownHeight(rectOf(block), s.scrollHeight - s.clientHeight, others)
      if (h != null) growBlock(conn, id, h)
    }
    const measure = () => {
      frame = 0
      const s = scrollerOf(el)
      if (s !== watched) {
        watched?.removeEventListener('scroll', schedule)
        s?.addEventListener('scroll', schedule, { passive: true })
        watched = s
      }
      if (!s) return setMore(false)
      if (performance.now() < growUntil.current && s.scrollHeight > s.clientHeight + 1) grow(s)
      // The fade: shown while text continues below what the block shows.
      setMore(s.scrollTop + s.clientHeight < s.scrollHeight - 2)
    }
    const schedule = () => { if (!frame) frame = requestAnimationFrame(measure) }
    const resize = new ResizeObserver(schedule)
    resize.observe(el)
    const changes = new MutationObserver(schedule)
    changes.observe(el, { childList: true, subtree: true, characterData: true })
    schedule()
    return () => {
      resize.disconnect()
      changes.disconnect()
      watched?.removeEventListener('scroll', schedule)
      if (frame) cancelAnimationFrame(frame)
    }
  }, [conn, id])

  return <div ref={box} className={`text-grow${more ? ' has-more' : ''}`}>{children}</div>
}
