import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { copyOf, mustAsk, setCacheToken, unsent } from './cacheCheck'
import type { StashStorage } from './stash'

function memory(): StashStorage & { data: Map<string, string> } {
  const data = new Map<string, string>()
  return {
    data,
    get length() { return data.size },
    key: (i) => Array.from(data.keys())[i] ?? null,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => { data.set(k, v) },
    removeItem: (k) => { data.delete(k) },
  }
}

function block(doc: Y.Doc, id: string, text: string): void {
  const b = new Y.Map<unknown>()
  b.set('kind', 'text')
  b.set('text', new Y.Text(text))
  doc.getMap('blocks').set(id, b)
}

describe('unsent', () => {
  it('finds blocks the kept copy adds, changes or removes, and nothing when it has no news', () => {
    const server = new Y.Doc()
    block(server, 'a', 'shared')
    const kept = new Y.Doc()
    Y.applyUpdate(kept, Y.encodeStateAsUpdate(server))
    expect(unsent(kept, server)).toBeNull()

    block(kept, 'b', 'made offline')
    ;(kept.getMap('blocks').get('a') as Y.Map<Y.Text>).get('text')!.insert(0, 'edited ')
    expect(unsent(kept, server)).toEqual({ blocks: 2, meta: false })

    const deleted = new Y.Doc()
    Y.applyUpdate(deleted, Y.encodeStateAsUpdate(server))
    deleted.getMap('blocks').delete('a')
    expect(unsent(deleted, server)).toEqual({ blocks: 1, meta: false })
  })

  it('counts nothing the server already has, however the copies were made', () => {
    const server = new Y.Doc()
    block(server, 'a', 'one')
    const kept = new Y.Doc()
    Y.applyUpdate(kept, Y.encodeStateAsUpdate(server))
    block(server, 'c', 'newer on the server') // the kept copy is older: nothing to add
    expect(unsent(kept, server)).toBeNull()
  })
})

describe('copyOf', () => {
  it('copies blocks, edges and prompts as new items, without the title', () => {
    const kept = new Y.Doc()
    block(kept, 'a', 'a heron')
    const e = new Y.Map<unknown>()
    e.set('source', 'a')
    e.set('target', 'a')
    kept.getMap('edges').set('e1', e)
    kept.getMap('meta').set('title', 'Old title')
    const copy = copyOf(kept)
    expect(copy.getMap('blocks').toJSON()).toEqual(kept.getMap('blocks').toJSON())
    expect(copy.getMap('edges').toJSON()).toEqual({ e1: { source: 'a', target: 'a' } })
    expect(copy.getMap('meta').get('title')).toBeUndefined()
    // Merged into a fresh canvas with its own title, the copy keeps that title.
    const fresh = new Y.Doc()
    fresh.getMap('meta').set('title', 'Copy of Old title')
    Y.applyUpdate(fresh, Y.encodeStateAsUpdate(copy))
    expect(fresh.getMap('meta').get('title')).toBe('Copy of Old title')
    expect((fresh.getMap('blocks').get('a') as Y.Map<unknown>).get('text')!.toString()).toBe('a heron')
  })
})

describe('mustAsk', () => {
  it('asks only when the cache was made with another edit link', () => {
    const s = memory()
    expect(mustAsk(s, 'r', 'new', undefined)).toBe(false) // never opened here
    expect(mustAsk(s, 'r', 'new', 'old')).toBe(true) // the list knew another edit token
    setCacheToken(s, 'r', 'new')
    expect(mustAsk(s, 'r', 'new', 'old')).toBe(false)
    expect(mustAsk(s, 'r', 'newer', 'new')).toBe(true)
  })
})
