import { useEffect, useMemo } from 'react'
import { useArbor } from './useArbor'

export interface PresenceActions {
  setCursor: (p: { x: number; y: number } | null) => void
  setViewport: (v: { x: number; y: number; zoom: number }) => void
  setSelection: (ids: string[]) => void
  setFollowing: (userId: string | null) => void
  /** Ask everyone to follow this person (the time it started), or stop asking (null). */
  setSpotlight: (since: number | null) => void
}

/** Publishes this person's presence (user, cursor, viewport, selection, following, spotlight). */
export function usePresence(): PresenceActions {
  const { conn, identity } = useArbor()
  const awareness = conn.provider.awareness
  useEffect(() => {
    awareness.setLocalStateField('user', {
      id: identity.id, name: identity.name, color: identity.color, noFollow: identity.noFollow,
    })
  }, [awareness, identity])

  return useMemo(() => {
    let last = 0
    let pending: { x: number; y: number } | null = null
    let timer = 0
    const flushCursor = () => {
      timer = 0
      last = performance.now()
      const cur = awareness.getLocalState()?.cursor as Record<string, unknown> | null | undefined
      const text = cur && typeof cur === 'object' ? cur.text : undefined
      awareness.setLocalStateField('cursor', pending ? { ...(text ? { text } : {}), x: Math.round(pending.x), y: Math.round(pending.y) } : null)
    }
    let vpTimer = 0
    let vp: { x: number; y: number; zoom: number } | null = null
    return {
      setCursor(p) {
        pending = p
        // At most ~20 cursor updates per second.
        const wait = 50 - (performance.now() - last)
        if (wait <= 0) flushCursor()
        else if (!timer) timer = window.setTimeout(flushCursor, wait)
      },
      setViewport(v) {
        vp = { x: Math.round(v.x), y: Math.round(v.y), zoom: Math.round(v.zoom * 1000) / 1000 }
        if (!vpTimer) {
          vpTimer = window.setTimeout(() => {
            vpTimer = 0
            awareness.setLocalStateField('viewport', vp)
          }, 80)
        }
      },
      setSelection(ids) {
        const prev = (awareness.getLocalState()?.selection as string[] | undefined) ?? []
        if (prev.length === ids.length && prev.every((x, i) => x === ids[i])) return
        awareness.setLocalStateField('selection', ids)
      },
      setFollowing(userId) {
        awareness.setLocalStateField('following', userId)
      },
      setSpotlight(since) {
        awareness.setLocalStateField('spotlight', since)
      },
    }
  }, [awareness])
}
