// Canvases this browser opened before (kept only in this browser).
import type { Role } from '../api/rooms'
import { forgetThumb } from './thumbnails'

export interface RecentCanvas {
  room: string
  title: string
  token: string
  role: Role
  lastOpened: number
  editToken?: string
  viewToken?: string
}

const KEY = 'arbor.recent'
const MAX = 50

function store(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage
  } catch {
    return null
  }
}

export function parseRecent(raw: string | null): RecentCanvas[] {
  if (!raw) return []
  try {
    const v: unknown = JSON.parse(raw)
    if (!Array.isArray(v)) return []
    return v.filter((r): r is RecentCanvas =>
      r != null && typeof r === 'object' && typeof r.room === 'string' && typeof r.token === 'string' &&
      (r.role === 'edit' || r.role === 'view'))
      .map((r) => ({ ...r, title: typeof r.title === 'string' ? r.title : 'Untitled canvas',
        lastOpened: typeof r.lastOpened === 'number' ? r.lastOpened : 0 }))
  } catch {
    return []
  }
}

export function listRecent(): RecentCanvas[] {
  return parseRecent(store()?.getItem(KEY) ?? null).sort((a, b) => b.lastOpened - a.lastOpened)
}

export function getRecent(room: string): RecentCanvas | undefined {
  return listRecent().find((r) => r.room === room)
}

export function rememberCanvas(entry: Partial<RecentCanvas> & { room: string }): void {
  const s = store()
  if (!s) return
  const all = listRecent()
  const old = all.find((r) => r.room === entry.room)
  const merged = { title: 'Untitled canvas', token: '', role: 'view', lastOpened: Date.now(), ...old, ...entry } as RecentCanvas
  if (!merged.token) return
  const next = [merged, ...all.filter((r) => r.room !== entry.room)].slice(0, MAX)
  s.setItem(KEY, JSON.stringify(next))
}

export function forgetCanvas(room: string): void {
  const s = store()
  if (!s) return
  s.setItem(KEY, JSON.stringify(listRecent().filter((r) => r.room !== room)))
  forgetThumb(room)
}
