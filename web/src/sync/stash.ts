// The last changes of a closing tab, kept synchronously.
//
// y-indexeddb stores each change in an IndexedDB transaction of its own, which commits
// later: a tab closed within moments of the last keystroke (offline, or before the server
// confirmed) can lose those keystrokes from the browser's copy. So when the page is hidden
// or closed, this writes what the server has not confirmed storing (the document's changes
// past the server's last `saved` state vector, with every deletion) to localStorage, whose
// writes are synchronous, under a key of this tab's own. The next load of the canvas in
// this browser applies every stash of the room before anything else, then removes them.
// Applying one twice, or one the server already has, changes nothing (Yjs updates merge).
import * as Y from 'yjs'

/** Largest stash kept, in bytes before base64 (localStorage holds about 5 MB per site). */
export const MAX_STASH_BYTES = 1 << 20

const PREFIX = 'arbor:unsaved:'

/** The part of `Storage` this uses (tests pass a map). */
export interface StashStorage {
  readonly length: number
  key(index: number): string | null
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

export function browserStorage(): StashStorage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage
  } catch {
    return null // storage disabled for this site
  }
}

function toBase64(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  }
  return btoa(s)
}

function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

function roomKeys(storage: StashStorage, room: string): string[] {
  const keys: string[] = []
  for (let i = 0; i < storage.length; i++) {
    const k = storage.key(i)
    if (k != null && k.startsWith(`${PREFIX}${room}:`)) keys.push(k)
  }
  return keys
}

/** Every stash of `room`, decoded (damaged ones left out); nothing is removed. */
export function readStashes(storage: StashStorage, room: string): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const key of roomKeys(storage, room)) {
    const value = storage.getItem(key)
    if (value == null) continue
    try {
      out.push(fromBase64(value))
    } catch {
      // not base64: a damaged stash
    }
  }
  return out
}

/** Remove every stash of `room` (what they held was discarded). */
export function removeStashes(storage: StashStorage, room: string): void {
  for (const key of roomKeys(storage, room)) storage.removeItem(key)
}

/** Apply every stash of `room` to `doc` (with `origin`) and remove them; how many applied. */
export function restoreStashes(storage: StashStorage, room: string, doc: Y.Doc,
  origin: unknown): number {
  let applied = 0
  for (const key of roomKeys(storage, room)) {
    const value = storage.getItem(key)
    storage.removeItem(key)
    if (value == null) continue
    try {
      Y.applyUpdate(doc, fromBase64(value), origin)
      applied++
    } catch {
      // A damaged stash (cut short, edited by hand): nothing of it is applied.
    }
  }
  return applied
}

export type StashResult = 'stashed' | 'too-large' | 'failed'

/** Keep what `doc` has past `saved` (the server's stored state vector; null: unknown, so
 * everything) under this tab's `tab` key. Synchronous, for `pagehide`. */
export function writeStash(storage: StashStorage, room: string, tab: string, doc: Y.Doc,
  saved: Uint8Array | null): StashResult {
  const key = `${PREFIX}${room}:${tab}`
  let update: Uint8Array
  try {
    update = saved ? Y.encodeStateAsUpdate(doc, saved) : Y.encodeStateAsUpdate(doc)
  } catch {
    update = Y.encodeStateAsUpdate(doc)
  }
  if (update.length > MAX_STASH_BYTES) {
    storage.removeItem(key)
    return 'too-large'
  }
  try {
    storage.setItem(key, toBase64(update))
    return 'stashed'
  } catch {
    return 'failed' // over the site's quota: IndexedDB still has all but the last moments
  }
}
