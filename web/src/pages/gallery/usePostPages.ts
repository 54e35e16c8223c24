import { useCallback, useEffect, useRef, useState } from 'react'
import type { PostPage, PostSummary } from '../../api/gallery'
import { ApiError } from '../../api/client'

export type PageLoader = (cursor: string | null, signal: AbortSignal) => Promise<PostPage>

/** Posts loaded page by page (keyset cursors); `more()` fetches the next page once. */
export function usePostPages(load: PageLoader, key: string) {
  const [posts, setPosts] = useState<PostSummary[]>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const [done, setDone] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [loading, setLoading] = useState(false)
  const busy = useRef(false)
  const ctrl = useRef<AbortController | null>(null)

  useEffect(() => {
    setPosts([]); setCursor(null); setDone(false); setError(null)
    busy.current = false
    return () => ctrl.current?.abort()
  }, [key])

  const more = useCallback(async () => {
    if (busy.current || done) return
    busy.current = true
    setLoading(true)
    const c = new AbortController()
    ctrl.current = c
    try {
      const page = await load(cursor, c.signal)
      setPosts((prev) => {
        const seen = new Set(prev.map((p) => p.id))
        return [...prev, ...page.posts.filter((p) => !seen.has(p.id))]
      })
      setCursor(page.next_cursor)
      if (!page.next_cursor) setDone(true)
    } catch (e) {
      // Aborted: the listing changed (another tab, a reload); the new one loads afresh.
      if (c.signal.aborted) return
      setError(e instanceof ApiError ? e.friendly : 'Could not load posts.')
      setDone(true)
    } finally {
      busy.current = false
      if (!c.signal.aborted) setLoading(false)
    }
  }, [load, cursor, done])

  return { posts, more, done, error, loading }
}
