// "All changes saved": the server's awareness entry carries the state vector it has stored.
import * as Y from 'yjs'

export function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/** Whether every client clock in `local` is covered by `saved` (both encoded state vectors). */
export function isCoveredBy(local: Uint8Array, saved: Uint8Array): boolean {
  const mine = Y.decodeStateVector(local)
  const theirs = Y.decodeStateVector(saved)
  for (const [client, clock] of mine) {
    if (clock > (theirs.get(client) ?? 0)) return false
  }
  return true
}

/** Same, with the server's base64 text; false when it cannot be read. */
export function isSavedBase64(local: Uint8Array, savedB64: string): boolean {
  try {
    return isCoveredBy(local, decodeBase64(savedB64))
  } catch {
    return false
  }
}

export interface ServerPresence {
  server: string
  saved: string
}

export function readServerPresence(state: unknown): ServerPresence | null {
  if (state == null || typeof state !== 'object') return null
  const a = (state as Record<string, unknown>).arbor
  if (a == null || typeof a !== 'object') return null
  const { server, saved } = a as Record<string, unknown>
  if (typeof saved !== 'string') return null
  return { server: typeof server === 'string' ? server : '', saved }
}
