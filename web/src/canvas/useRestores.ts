// Restoring an earlier version, and telling everyone on the canvas, once, with the way back.
//
// The server records who restored what (on the checkpoint it keeps of the canvas just
// before). Everyone else hears of it through the restorer's presence: a `restored` field
// {id, before, to, undo}. A field that was already there when this page first saw that
// person is old news and is not told.
import { useCallback, useEffect, useRef } from 'react'
import { useArbor } from '../hooks/useArbor'
import { ApiError } from '../api/client'
import { clockTime, restoreCheckpoint, type Checkpoint } from '../api/history'

export const RESTORED_FIELD = 'restored'

export interface RestoredNews {
  /** Unique per restore (a restore of the same version twice is news twice). */
  id: string
  /** The checkpoint of the canvas just before: restoring it takes the restore back. */
  before: number
  /** When the restored version was kept (ISO time). */
  to: string
  /** This restore took an earlier one back. */
  undo?: boolean
}

function readNews(v: unknown): RestoredNews | null {
  if (!v || typeof v !== 'object') return null
  const r = v as Record<string, unknown>
  if (typeof r.id !== 'string' || typeof r.before !== 'number' || typeof r.to !== 'string') return null
  return { id: r.id.slice(0, 40), before: r.before, to: r.to.slice(0, 40), undo: r.undo === true }
}

const why = (e: unknown) => (e instanceof ApiError ? e.friendly : 'it failed')

/** `restore(checkpoint)`: restores it for everyone, says so here with "Undo restore", and
 * tells the others (through presence). Resolves to the server's answer, or null. */
export function useRestore(): (c: Pick<Checkpoint, 'id' | 'created_at'>, undo?: boolean) => Promise<{ before: Checkpoint } | null> {
  const { conn, room, token, identity, notify } = useArbor()
  const restore = useCallback(async (c: Pick<Checkpoint, 'id' | 'created_at'>, undo = false) => {
    try {
      const r = await restoreCheckpoint(room, token, c.id, identity.name)
      const news: RestoredNews = { id: Math.random().toString(36).slice(2, 12), before: r.before.id, to: c.created_at, undo }
      conn.provider.awareness.setLocalStateField(RESTORED_FIELD, news)
      notify(undo ? 'Restore undone.' : `You restored the canvas to ${clockTime(c.created_at)}.`, 'info',
        undo ? undefined : { label: 'Undo restore', run: () => void restore(r.before, true) })
      return r
    } catch (e) {
      notify(undo ? `Undoing the restore failed: ${why(e)}` : `Restore failed: ${why(e)}`, 'error')
      return null
    }
  }, [conn, room, token, identity.name, notify])
  return restore
}

/** Tells this person, once each, when someone else restores the canvas: "Ada restored the
 * canvas to 18:05", with "Undo" (restore the version kept just before). */
export function useRestoreNews(): void {
  const { conn, readOnly, notify } = useArbor()
  const restore = useRestore()
  const seen = useRef(new Map<number, string | null>())
  useEffect(() => {
    const awareness = conn.provider.awareness
    const look = () => {
      awareness.getStates().forEach((state, clientId) => {
        if (clientId === awareness.clientID) return
        const news = readNews((state as Record<string, unknown>)[RESTORED_FIELD])
        const first = !seen.current.has(clientId)
        const last = seen.current.get(clientId) ?? null
        seen.current.set(clientId, news?.id ?? last)
        if (first || !news || news.id === last) return
        const user = (state as { user?: { name?: unknown } }).user
        const name = typeof user?.name === 'string' && user.name.trim() ? user.name.slice(0, 40) : 'Someone'
        const text = news.undo ? `${name} took back a restore of the canvas.` : `${name} restored the canvas to ${clockTime(news.to)}.`
        notify(text, 'info', readOnly ? undefined : {
          label: 'Undo', run: () => void restore({ id: news.before, created_at: new Date().toISOString() }, true),
        })
      })
    }
    look()
    awareness.on('change', look)
    return () => awareness.off('change', look)
  }, [conn, readOnly, notify, restore])
}
