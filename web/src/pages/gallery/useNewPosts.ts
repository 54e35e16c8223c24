import { useEffect, useState } from 'react'
import { newerPosts } from '../../api/gallery'

export const POLL_MS = 30_000

/** How many posts were published after `newest` (the first post the feed shows), asked
 *  every 30 s while the page is visible, and at once when it becomes visible again. A
 *  hidden tab asks nothing. `null` until a first answer, or without a newest post. */
export function useNewPosts(newest: string | null, enabled: boolean, following = false) {
  const [found, setFound] = useState<{ count: number; more: boolean } | null>(null)
  useEffect(() => {
    setFound(null)
    if (!enabled || !newest) return
    let ctrl: AbortController | null = null
    const ask = () => {
      if (document.visibilityState !== 'visible') return
      ctrl?.abort()
      const c = new AbortController()
      ctrl = c
      newerPosts(newest, c.signal, following).then((r) => { if (!c.signal.aborted) setFound(r) }, () => {})
    }
    const timer = window.setInterval(ask, POLL_MS)
    document.addEventListener('visibilitychange', ask)
    window.addEventListener('focus', ask)
    return () => {
      window.clearInterval(timer)
      document.removeEventListener('visibilitychange', ask)
      window.removeEventListener('focus', ask)
      ctrl?.abort()
    }
  }, [newest, enabled, following])
  return found
}
