import { useEffect } from 'react'
import { useArbor } from './useArbor'
import { readBlock } from '../sync/bindings'
import { makeThumb, saveThumb, type ThumbBlock } from '../lib/thumbnails'

/**
 * Keeps a small picture of this canvas for the home page, taken when the person leaves it
 * (another page of the app, the tab hidden or closed). Not taken before the document has
 * arrived: an empty first moment must not replace the picture of a full canvas.
 */
export function useCanvasThumbnail(): void {
  const { conn, room } = useArbor()
  useEffect(() => {
    const capture = () => {
      if (!conn.getState().synced && conn.blocks.size === 0) return
      const blocks: ThumbBlock[] = []
      conn.blocks.forEach((value, id) => {
        const b = readBlock(id, value)
        if (!b) return
        blocks.push({
          x: b.x, y: b.y, w: b.data.w, h: b.data.h, kind: b.data.kind, createdAt: b.data.createdAt ?? 0,
          imageKey: b.data.image ? b.data.image.thumbKey ?? b.data.image.key : null,
        })
      })
      saveThumb(room, makeThumb(blocks))
    }
    const onHidden = () => { if (document.visibilityState === 'hidden') capture() }
    window.addEventListener('pagehide', capture)
    document.addEventListener('visibilitychange', onHidden)
    return () => {
      window.removeEventListener('pagehide', capture)
      document.removeEventListener('visibilitychange', onHidden)
      capture()
    }
  }, [conn, room])
}
