import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MAX_STASH_BYTES, readStashes, removeStashes, restoreStashes, writeStash, type StashStorage } from './stash'

class MapStorage implements StashStorage {
  readonly items = new Map<string, string>()
  quota = Infinity
  get length() { return this.items.size }
  key(i: number) { return [...this.items.keys()][i] ?? null }
  getItem(k: string) { return this.items.get(k) ?? null }
  setItem(k: string, v: string) {
    if (v.length > this.quota) throw new DOMException('full', 'QuotaExceededError')
    this.items.set(k, v)
  }
  removeItem(k: string) { this.items.delete(k) }
}

function text(doc: Y.Doc): string {
  return doc.getText('t').toString()
}

/** A server copy holding `doc` as it is now, and the state vector it reports as saved. */
function serverCopy(doc: Y.Doc): { server: Y.Doc; saved: Uint8Array } {
  const server = new Y.Doc()
  Y.applyUpdate(server, Y.encodeStateAsUpdate(doc))
  return { server, saved: Y.encodeStateVector(server) }
}

describe('stash', () => {
  it('brings back the edits past what the server saved, deletions included', () => {
    const tab = new Y.Doc()
    tab.getText('t').insert(0, 'saved part, and a typo')
    const { server, saved } = serverCopy(tab)
    tab.getText('t').delete(15, 7) // "and a typo" loses "a typo": a deletion of saved text
    tab.getText('t').insert(text(tab).length, ' then the last keystrokes')
    const storage = new MapStorage()
    expect(writeStash(storage, 'r1', 'tabA', tab, saved)).toBe('stashed')

    // The next load: a fresh document (IndexedDB lost the last changes), the stash first.
    const next = new Y.Doc()
    expect(restoreStashes(storage, 'r1', next, 'stash')).toBe(1)
    Y.applyUpdate(next, Y.encodeStateAsUpdate(server)) // then the server's state arrives
    expect(text(next)).toBe(text(tab))
    expect(storage.length).toBe(0)
  })

  it('stashes only what the server lacks', () => {
    const tab = new Y.Doc()
    tab.getText('t').insert(0, 'x'.repeat(50_000))
    const { saved } = serverCopy(tab)
    tab.getText('t').insert(0, 'new')
    const storage = new MapStorage()
    writeStash(storage, 'r1', 'tabA', tab, saved)
    expect(storage.getItem('arbor:unsaved:r1:tabA')!.length).toBeLessThan(200)
  })

  it('keeps each tab apart and restores only the room asked for', () => {
    const storage = new MapStorage()
    for (const [room, tab, word] of [['r1', 'a', 'one'], ['r1', 'b', 'two'], ['r2', 'c', 'other']]) {
      const d = new Y.Doc()
      d.getMap('m').set(word, true)
      writeStash(storage, room, tab, d, null)
    }
    const next = new Y.Doc()
    expect(restoreStashes(storage, 'r1', next, null)).toBe(2)
    expect(Object.keys(next.getMap('m').toJSON()).sort()).toEqual(['one', 'two'])
    expect([...storage.items.keys()]).toEqual(['arbor:unsaved:r2:c'])
  })

  it('skips a damaged stash and removes it', () => {
    const storage = new MapStorage()
    storage.setItem('arbor:unsaved:r1:x', 'not base64 at all!')
    storage.setItem('arbor:unsaved:r1:y', btoa('\u0001\u0002garbage'))
    const next = new Y.Doc()
    expect(restoreStashes(storage, 'r1', next, null)).toBe(0)
    expect(storage.length).toBe(0)
    expect(Y.encodeStateVector(next)).toEqual(Y.encodeStateVector(new Y.Doc()))
  })

  it('says when a stash is too large or the storage is full', () => {
    const big = new Y.Doc()
    const bytes = new Uint8Array(MAX_STASH_BYTES + 1)
    big.getMap('m').set('blob', bytes)
    const storage = new MapStorage()
    storage.setItem('arbor:unsaved:r1:t', 'older')
    expect(writeStash(storage, 'r1', 't', big, null)).toBe('too-large')
    expect(storage.getItem('arbor:unsaved:r1:t')).toBeNull()
    const small = new Y.Doc()
    small.getMap('m').set('k', 'v')
    storage.quota = 4
    expect(writeStash(storage, 'r1', 't', small, null)).toBe('failed')
  })
})

describe('reading stashes without using them', () => {
  it('reads every stash of a room and leaves them, until they are removed', () => {
    const storage = new MapStorage()
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'kept')
    writeStash(storage, 'r1', 'tabA', doc, null)
    writeStash(storage, 'r2', 'tabA', doc, null)
    storage.setItem('arbor:unsaved:r1:tabB', '%%% not base64')
    const read = readStashes(storage, 'r1')
    expect(read).toHaveLength(1)
    const copy = new Y.Doc()
    Y.applyUpdate(copy, read[0])
    expect(text(copy)).toBe('kept')
    expect(storage.items.size).toBe(3)
    removeStashes(storage, 'r1')
    expect([...storage.items.keys()]).toEqual(['arbor:unsaved:r2:tabA'])
  })
})
