import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { promptsMapUpdate, writePrompt } from './prompts'
import { META } from './schema'

const mine = Symbol('mine')

function person(): { doc: Y.Doc; undo: Y.UndoManager; write: (tool: string, v: string | null) => void } {
  const doc = new Y.Doc()
  const undo = new Y.UndoManager([doc.getMap(META)], { trackedOrigins: new Set([mine]) })
  const write = (tool: string, v: string | null) =>
    writePrompt(doc, (fn) => doc.transact(fn, mine), tool, v)
  return { doc, undo, write }
}

function exchange(a: Y.Doc, b: Y.Doc): void {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)))
}

const prompts = (d: Y.Doc) => (d.getMap(META).get('prompts') as Y.Map<unknown>).toJSON()

describe('meta.prompts', () => {
  it('keeps both first edits when two people create the map at the same moment', () => {
    const a = person()
    const b = person()
    a.write('expand', 'A expands')
    b.write('twist', 'B twists')
    exchange(a.doc, b.doc)
    expect(prompts(a.doc)).toEqual({ expand: 'A expands', twist: 'B twists' })
    expect(prompts(b.doc)).toEqual(prompts(a.doc))
  })

  it('makes the same map a new canvas already holds, adding nothing', () => {
    const server = new Y.Doc()
    Y.applyUpdate(server, promptsMapUpdate())
    const a = person()
    a.write('expand', 'mine')
    const before = Y.encodeStateVector(server)
    Y.applyUpdate(server, promptsMapUpdate())
    expect(Y.encodeStateVector(server)).toEqual(before)
    exchange(a.doc, server)
    expect(prompts(server)).toEqual({ expand: 'mine' })
  })

  it('undo takes back the template, not the map', () => {
    const a = person()
    a.write('expand', 'mine')
    a.undo.undo()
    expect(prompts(a.doc)).toEqual({})
    a.write('twist', 'again')
    expect(prompts(a.doc)).toEqual({ twist: 'again' })
  })

  it('a reset where no map exists writes nothing', () => {
    const a = person()
    a.write('expand', null)
    expect(a.doc.getMap(META).has('prompts')).toBe(false)
    expect(Y.encodeStateVector(a.doc)).toEqual(Y.encodeStateVector(new Y.Doc()))
  })
})
