// Every local edit of the document, each in one transaction with this person's origin.
import * as Y from 'yjs'
import type { Connection } from './connection'
import { DEFAULT_SIZE, type BlockKind, type Status } from './schema'

export function newId(): string {
  const b = new Uint8Array(16)
  crypto.getRandomValues(b)
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

export interface NewBlock {
  kind: BlockKind
  x: number
  y: number
  w?: number
  h?: number
  text?: string
  status?: Status
  tool?: string
  author: string
}

/** Builds a block's Y.Map (not yet in the document). */
export function makeBlock(b: NewBlock): Y.Map<unknown> {
  const m = new Y.Map<unknown>()
  m.set('kind', b.kind)
  m.set('x', Math.round(b.x))
  m.set('y', Math.round(b.y))
  m.set('w', b.w ?? DEFAULT_SIZE[b.kind].w)
  m.set('h', b.h ?? DEFAULT_SIZE[b.kind].h)
  m.set('text', new Y.Text(b.text ?? ''))
  m.set('status', b.status ?? 'idle')
  m.set('author', b.author)
  m.set('createdAt', Date.now())
  if (b.tool) m.set('tool', b.tool)
  return m
}

export function addBlockIn(blocks: Y.Map<Y.Map<unknown>>, b: NewBlock, id = newId()): string {
  blocks.set(id, makeBlock(b))
  return id
}

export function addEdgeIn(edges: Y.Map<Y.Map<unknown>>, source: string, target: string, tool?: string | null): string {
  const id = newId()
  const e = new Y.Map<unknown>()
  e.set('source', source)
  e.set('target', target)
  if (tool) e.set('tool', tool)
  edges.set(id, e)
  return id
}

export function createBlock(c: Connection, b: NewBlock): string {
  return c.transact(() => addBlockIn(c.blocks, b))
}

/** A new block linked from `source` (drag from a handle to empty space). */
export function createLinkedBlock(c: Connection, source: string, b: NewBlock): string {
  return c.transact(() => {
    const id = addBlockIn(c.blocks, b)
    addEdgeIn(c.edges, source, id)
    return id
  })
}

export function hasEdge(c: Connection, source: string, target: string): boolean {
  for (const e of c.edges.values()) {
    if (e.get('source') === source && e.get('target') === target) return true
  }
  return false
}

export function connectBlocks(c: Connection, source: string, target: string): void {
  if (source === target || hasEdge(c, source, target)) return
  c.transact(() => addEdgeIn(c.edges, source, target))
}

export function moveBlocks(c: Connection, moves: { id: string; x: number; y: number }[]): void {
  if (moves.length === 0) return
  c.transact(() => {
    for (const m of moves) {
      const b = c.blocks.get(m.id)
      if (!b) continue
      if (b.get('x') !== Math.round(m.x)) b.set('x', Math.round(m.x))
      if (b.get('y') !== Math.round(m.y)) b.set('y', Math.round(m.y))
    }
  })
}

export function resizeBlock(c: Connection, id: string, r: { x: number; y: number; w: number; h: number }): void {
  c.transact(() => {
    const b = c.blocks.get(id)
    if (!b) return
    b.set('x', Math.round(r.x))
    b.set('y', Math.round(r.y))
    b.set('w', Math.round(r.w))
    b.set('h', Math.round(r.h))
  })
}

/** Deletes blocks, the edges touching them, and the given edges. */
export function deleteItems(c: Connection, blockIds: readonly string[], edgeIds: readonly string[] = []): void {
  const gone = new Set(blockIds)
  if (gone.size === 0 && edgeIds.length === 0) return
  c.transact(() => {
    for (const id of gone) c.blocks.delete(id)
    for (const id of edgeIds) c.edges.delete(id)
    for (const [id, e] of Array.from(c.edges.entries())) {
      if (gone.has(e.get('source') as string) || gone.has(e.get('target') as string)) c.edges.delete(id)
    }
  })
}

/** Copies blocks (with their text and image) and the edges among them; returns new ids. */
export function duplicateBlocks(c: Connection, ids: readonly string[], author: string, offset = 40): string[] {
  const map = new Map<string, string>()
  c.transact(() => {
    for (const id of ids) {
      const src = c.blocks.get(id)
      if (!src) continue
      const text = src.get('text')
      const kind = src.get('kind') === 'image' ? 'image' : 'text'
      const nid = addBlockIn(c.blocks, {
        kind,
        x: Number(src.get('x') ?? 0) + offset,
        y: Number(src.get('y') ?? 0) + offset,
        w: Number(src.get('w') ?? DEFAULT_SIZE[kind].w),
        h: Number(src.get('h') ?? DEFAULT_SIZE[kind].h),
        text: text instanceof Y.Text ? text.toString() : '',
        author,
      })
      const img = src.get('image')
      if (img != null) c.blocks.get(nid)?.set('image', img instanceof Y.Map ? img.toJSON() : img)
      map.set(id, nid)
    }
    for (const e of Array.from(c.edges.values())) {
      const s = map.get(e.get('source') as string)
      const t = map.get(e.get('target') as string)
      if (s && t) addEdgeIn(c.edges, s, t, e.get('tool') as string | undefined)
    }
  })
  return Array.from(map.values())
}

export function setBlockFields(c: Connection, id: string, fields: Record<string, unknown>): void {
  c.transact(() => {
    const b = c.blocks.get(id)
    if (!b) return
    for (const [k, v] of Object.entries(fields)) b.set(k, v)
  })
}

export function setTitle(c: Connection, title: string): void {
  c.transact(() => c.meta.set('title', title))
}

/** Not part of anyone's undo: a block growing to show its text is not an edit to take back. */
export const GROWTH_ORIGIN = { name: 'block-growth' }

/** Makes a block taller (never shorter) to show its text; see `growth.ts`. */
export function growBlock(c: Connection, id: string, h: number): void {
  const b = c.blocks.get(id)
  if (!b || !(h > Number(b.get('h') ?? 0))) return
  c.doc.transact(() => b.set('h', Math.round(h)), GROWTH_ORIGIN)
}
