import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { isCoveredBy, isSavedBase64, readServerPresence } from './saved'

const b64 = (u: Uint8Array) => btoa(String.fromCharCode(...u))

describe('saved state', () => {
  it('is saved when the server has every clock of ours, not before', () => {
    const server = new Y.Doc()
    const mine = new Y.Doc()
    mine.getMap('meta').set('title', 'x')
    const savedBefore = Y.encodeStateVector(server)
    expect(isCoveredBy(Y.encodeStateVector(mine), savedBefore)).toBe(false)
    Y.applyUpdate(server, Y.encodeStateAsUpdate(mine))
    expect(isCoveredBy(Y.encodeStateVector(mine), Y.encodeStateVector(server))).toBe(true)
    // server ahead of us (someone else's edits) still counts as saved for us
    server.getMap('meta').set('other', 1)
    expect(isSavedBase64(Y.encodeStateVector(mine), b64(Y.encodeStateVector(server)))).toBe(true)
    mine.getMap('meta').set('title', 'y')
    expect(isSavedBase64(Y.encodeStateVector(mine), b64(Y.encodeStateVector(server)))).toBe(false)
  })

  it('an empty document is saved against the empty vector the server starts with', () => {
    expect(isSavedBase64(Y.encodeStateVector(new Y.Doc()), 'AA==')).toBe(true)
    expect(isSavedBase64(new Uint8Array([1, 5, 3]), 'AA==')).toBe(false)
    expect(isSavedBase64(new Uint8Array([1, 5, 3]), '!!!')).toBe(false)
  })

  it('reads the server awareness entry only', () => {
    expect(readServerPresence({ arbor: { server: 'p1', saved: 'AA==' } })).toEqual({ server: 'p1', saved: 'AA==' })
    expect(readServerPresence({ user: { id: 'u' } })).toBeNull()
    expect(readServerPresence(null)).toBeNull()
  })
})
