// Presence through awareness: the fields are user, cursor, viewport, selection, following,
// and spotlight (since when this person asks everyone to follow them, or null).
import { SERVER_AWARENESS_FIELD } from './schema'

export interface PresenceUser {
  id: string
  name: string
  color: string
  noFollow?: boolean
}

export interface Person {
  clientId: number
  user: PresenceUser
  cursor: { x: number; y: number } | null
  viewport: { x: number; y: number; zoom: number } | null
  selection: string[]
  following: string | null
  spotlight: number | null
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/** People in an awareness map, without this client and without server entries. */
export function readPeople(states: ReadonlyMap<number, Record<string, unknown>>, selfClientId: number): Person[] {
  const out: Person[] = []
  const seen = new Set<string>()
  states.forEach((s, clientId) => {
    if (clientId === selfClientId || s == null || SERVER_AWARENESS_FIELD in s) return
    const u = s.user as Partial<PresenceUser> | undefined
    if (!u || typeof u.id !== 'string' || typeof u.name !== 'string') return
    const c = s.cursor as Record<string, unknown> | null | undefined
    const v = s.viewport as Record<string, unknown> | null | undefined
    const person: Person = {
      clientId,
      user: { id: u.id, name: u.name.slice(0, 40), color: typeof u.color === 'string' ? u.color : '#4d5761', noFollow: u.noFollow === true },
      cursor: c && isNum(c.x) && isNum(c.y) ? { x: c.x, y: c.y } : null,
      viewport: v && isNum(v.x) && isNum(v.y) && isNum(v.zoom) ? { x: v.x, y: v.y, zoom: v.zoom } : null,
      selection: Array.isArray(s.selection) ? s.selection.filter((x): x is string => typeof x === 'string') : [],
      following: typeof s.following === 'string' ? s.following : null,
      spotlight: isNum(s.spotlight) ? s.spotlight : null,
    }
    // The same person in two tabs: keep one entry per client, but label duplicates apart.
    out.push(person)
    seen.add(u.id)
  })
  out.sort((a, b) => a.user.name.localeCompare(b.user.name) || a.clientId - b.clientId)
  return out
}

/** Block id → colours of the other people who have it selected. */
export function selectionsByBlock(people: readonly Person[]): Map<string, string[]> {
  const m = new Map<string, string[]>()
  for (const p of people) {
    for (const id of p.selection) {
      const list = m.get(id) ?? []
      if (!list.includes(p.user.color)) list.push(p.user.color)
      m.set(id, list)
    }
  }
  return m
}

/** The person whose spotlight started last (and who can be followed), or null. */
export function spotlightOf(people: readonly Person[]): Person | null {
  let best: Person | null = null
  for (const p of people) {
    if (p.spotlight == null || p.user.noFollow) continue
    if (!best || p.spotlight > best.spotlight!) best = p
  }
  return best
}
