import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { mergeEdges, mergeNodes, readBlock, readBlocks, readEdges } from './bindings'
import { addBlockIn, addEdgeIn } from './mutations'

function fixture() {
  const doc = new Y.Doc()
  const blocks = doc.getMap<Y.Map<unknown>>('blocks')
  const edges = doc.getMap<Y.Map<unknown>>('edges')
  return { doc, blocks, edges }
}

describe('readBlock', () => {
  it('reads the fields and defaults what is missing', () => {
    const { doc, blocks } = fixture()
    doc.transact(() => {
      const m = new Y.Map<unknown>()
      m.set('kind', 'image')
      m.set('x', 10.5)
      m.set('status', 'running')
      m.set('progress', 1.7)
      m.set('image', { key: 'k1', width: 64, height: 32, mime: 'image/png', thumbKey: 't1' })
      blocks.set('b1', m)
    })
    const b = readBlock('b1', blocks.get('b1'))!
    expect(b.x).toBe(10.5)
    expect(b.y).toBe(0)
    expect(b.data.kind).toBe('image')
    expect(b.data.w).toBe(260)
    expect(b.data.status).toBe('running')
    expect(b.data.progress).toBe(1)
    expect(b.data.image).toEqual({ key: 'k1', width: 64, height: 32, mime: 'image/png', thumbKey: 't1' })
  })

  it('rejects non-maps and unknown statuses', () => {
    const { doc, blocks } = fixture()
    doc.transact(() => {
      const m = new Y.Map<unknown>()
      m.set('status', 'exploded')
      m.set('kind', 'video')
      blocks.set('b', m)
    })
    expect(readBlock('x', 'not a map')).toBeNull()
    const b = readBlock('b', blocks.get('b'))!
    expect(b.data.status).toBe('idle')
    expect(b.data.kind).toBe('text')
  })
})

describe('mergeNodes', () => {
  it('keeps selection, measured size and a dragged position across remote edits', () => {
    const { doc, blocks } = fixture()
    doc.transact(() => {
      addBlockIn(blocks, { kind: 'text', x: 0, y: 0, author: 'a' }, 'a')
      addBlockIn(blocks, { kind: 'text', x: 100, y: 0, author: 'a' }, 'b')
    })
    let nodes = mergeNodes([], readBlocks(blocks))
    expect(nodes.map((n) => n.id)).toEqual(['a', 'b'])
    nodes = nodes.map((n) => n.id === 'a'
      ? { ...n, selected: true, dragging: true, position: { x: 55, y: 66 }, measured: { width: 260, height: 150 } }
      : n)
    // another person moves both blocks
    doc.transact(() => {
      blocks.get('a')!.set('x', 500)
      blocks.get('b')!.set('x', 700)
    })
    const next = mergeNodes(nodes, readBlocks(blocks))
    const a = next.find((n) => n.id === 'a')!
    const b = next.find((n) => n.id === 'b')!
    expect(a.selected).toBe(true)
    expect(a.position).toEqual({ x: 55, y: 66 })
    expect(a.measured).toEqual({ width: 260, height: 150 })
    expect(b.position).toEqual({ x: 700, y: 0 })
  })

  it('reuses unchanged node objects and drops deleted blocks', () => {
    const { doc, blocks } = fixture()
    doc.transact(() => {
      addBlockIn(blocks, { kind: 'text', x: 0, y: 0, author: 'a' }, 'a')
      addBlockIn(blocks, { kind: 'image', x: 1, y: 1, author: 'a' }, 'b')
    })
    const first = mergeNodes([], readBlocks(blocks))
    doc.transact(() => blocks.get('b')!.set('status', 'queued'))
    const second = mergeNodes(first, readBlocks(blocks))
    expect(second[0]).toBe(first[0])
    expect(second[1]).not.toBe(first[1])
    expect(second[1].data.status).toBe('queued')
    doc.transact(() => blocks.delete('a'))
    expect(mergeNodes(second, readBlocks(blocks)).map((n) => n.id)).toEqual(['b'])
  })

  it('makes nodes read-only for a view link', () => {
    const { doc, blocks } = fixture()
    doc.transact(() => addBlockIn(blocks, { kind: 'text', x: 0, y: 0, author: 'a' }, 'a'))
    const [n] = mergeNodes([], readBlocks(blocks), true)
    expect(n.draggable).toBe(false)
    expect(n.connectable).toBe(false)
  })
})

describe('readEdges', () => {
  it('draws only edges whose two blocks exist, with the tool as label', () => {
    const { doc, blocks, edges } = fixture()
    let e1 = ''
    doc.transact(() => {
      addBlockIn(blocks, { kind: 'text', x: 0, y: 0, author: 'a' }, 'a')
      addBlockIn(blocks, { kind: 'text', x: 0, y: 0, author: 'a' }, 'b')
      e1 = addEdgeIn(edges, 'a', 'b', 'expand')
      addEdgeIn(edges, 'a', 'gone')
    })
    const out = readEdges(edges, new Set(blocks.keys()))
    expect(out).toHaveLength(1)
    expect(out[0]).toMatchObject({ id: e1, source: 'a', target: 'b', label: 'Expand' })
    const selected = out.map((e) => ({ ...e, selected: true }))
    const again = mergeEdges(selected, readEdges(edges, new Set(blocks.keys())))
    expect(again[0]).toBe(selected[0])
  })
})
