// Edits kept in this browser from before the canvas's links were rotated.
//
// Rotating the links is how access is withdrawn. Whatever this browser kept for the canvas
// and never got to send (its IndexedDB cache and the stashes of closed tabs) was made with
// the old link; when a new link opens the canvas here, that is not merged silently: the
// person is asked to add it, discard it, or open it as a copy in a new canvas.
//
// The cache remembers the edit token it was last opened with (`arbor:cache-token:{room}`);
// a different token means the links were rotated since. While the question is open the
// live document has only the server's state, and this module reads the cache into a
// document of its own to see what it would add.
import * as Y from 'yjs'
import { IndexeddbPersistence, clearDocument } from 'y-indexeddb'
import { BLOCKS, EDGES, META } from './schema'
import { promptsMapUpdate } from './prompts'
import { readStashes, removeStashes, type StashStorage } from './stash'

const TOKEN_PREFIX = 'arbor:cache-token:'

/** The IndexedDB name of an edit link's cache of `room` (connection.ts opens it). */
export const cacheName = (room: string) => `arbor:${room}`

export function cacheToken(storage: StashStorage | null, room: string): string | null {
  return storage?.getItem(TOKEN_PREFIX + room) ?? null
}

export function setCacheToken(storage: StashStorage | null, room: string, token: string): void {
  try {
    storage?.setItem(TOKEN_PREFIX + room, token)
  } catch {
    // storage full or disabled: the next visit asks again, which is safe
  }
}

/** Whether opening `room` with this edit `token` must ask before using the cache: the cache
 * was made with another edit token (`previous`: what the list of canvases last knew, for
 * caches from before the token was kept with them). */
export function mustAsk(storage: StashStorage | null, room: string, token: string,
  previous: string | undefined): boolean {
  const made = cacheToken(storage, room) ?? previous ?? null
  return made != null && made !== token
}

/** This browser's copy of `room`: the IndexedDB cache and every stash, in a document of
 * its own (nothing is removed). */
export async function loadKept(room: string, storage: StashStorage | null): Promise<Y.Doc> {
  const doc = new Y.Doc()
  if (typeof indexedDB !== 'undefined') {
    const idb = new IndexeddbPersistence(cacheName(room), doc)
    await idb.whenSynced
    await idb.destroy()
  }
  for (const update of storage ? readStashes(storage, room) : []) {
    try {
      Y.applyUpdate(doc, update)
    } catch {
      // a damaged stash adds nothing
    }
  }
  return doc
}

export interface Unsent {
  /** Blocks the kept copy adds, changes or removes. */
  blocks: number
  /** Whether the title or a tool prompt differs. */
  meta: boolean
}

/** What `kept` has that `live` lacks (insertions or deletions), or null if nothing. */
export function unsent(kept: Y.Doc, live: Y.Doc): Unsent | null {
  const update = Y.encodeStateAsUpdate(kept, Y.encodeStateVector(live))
  const probe = new Y.Doc()
  Y.applyUpdate(probe, Y.encodeStateAsUpdate(live))
  const touched = new Set<string>()
  let meta = false
  let changed = false
  probe.getMap(BLOCKS).observeDeep((events) => {
    for (const e of events) {
      const path = e.path
      if (path.length > 0) touched.add(String(path[0]))
      else (e as Y.YMapEvent<unknown>).keysChanged.forEach((k) => touched.add(k))
    }
  })
  probe.getMap(META).observeDeep(() => { meta = true })
  probe.on('afterTransaction', (tr: Y.Transaction) => {
    if (tr.deleteSet.clients.size > 0) changed = true
    tr.afterState.forEach((clock, client) => { if ((tr.beforeState.get(client) ?? 0) !== clock) changed = true })
  })
  Y.applyUpdate(probe, update)
  probe.destroy()
  return changed && (touched.size > 0 || meta) ? { blocks: touched.size, meta } : null
}

/** Forget what this browser kept of `room` (cache and stashes). */
export async function discardKept(room: string, storage: StashStorage | null): Promise<void> {
  if (storage) removeStashes(storage, room)
  if (typeof indexedDB !== 'undefined') await clearDocument(cacheName(room))
}

/** A copy of a value of the document as new items (texts as texts, maps as maps). */
function clone(v: unknown): unknown {
  if (v instanceof Y.Text) return new Y.Text(v.toString())
  if (v instanceof Y.Map) {
    const m = new Y.Map<unknown>()
    v.forEach((x, k) => m.set(k, clone(x)))
    return m
  }
  if (v instanceof Y.Array) {
    const a = new Y.Array<unknown>()
    a.push(v.toArray().map(clone))
    return a
  }
  return v
}

/** `kept`'s blocks, edges and tool prompts as a document of new items, for another canvas:
 * nothing in it refers to the first canvas's history, so it merges into the copy whole, and
 * the copy keeps its own title. */
export function copyOf(kept: Y.Doc): Y.Doc {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, promptsMapUpdate())
  doc.transact(() => {
    for (const key of [BLOCKS, EDGES]) {
      const to = doc.getMap(key)
      kept.getMap(key).forEach((v, id) => to.set(id, clone(v)))
    }
    const prompts = kept.getMap(META).get('prompts')
    const into = doc.getMap(META).get('prompts')
    if (prompts instanceof Y.Map && into instanceof Y.Map) prompts.forEach((v, k) => into.set(k, v))
  })
  return doc
}

/** Put a copy of `kept` into the cache of another canvas (`copy`), whose next opening in
 * this browser sends it there. */
export async function keepAsCopy(kept: Y.Doc, copy: string): Promise<void> {
  const doc = copyOf(kept)
  const idb = new IndexeddbPersistence(cacheName(copy), doc)
  await idb.whenSynced
  await idb.destroy()
  doc.destroy()
}
