import { useEffect, useState } from 'react'
import { useArbor } from './useArbor'

/** The canvas title from meta.title. */
export function useCanvasTitle(): string {
  const { conn } = useArbor()
  const read = () => {
    const t = conn.meta.get('title')
    return typeof t === 'string' && t.trim() ? t : 'Untitled canvas'
  }
  const [title, setTitle] = useState(read)
  useEffect(() => {
    const update = () => setTitle(read())
    update()
    conn.meta.observe(update)
    return () => conn.meta.unobserve(update)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [conn])
  return title
}
