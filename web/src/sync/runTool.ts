// Running a tool: output blocks are created in their own undoable transaction (so undo
// removes them, and the server cancels a job whose output block is gone), then the job
// is asked for. Bookkeeping afterwards (job id, errors) is not part of anyone's undo.
import type { Connection } from './connection'
import { addBlockIn, addEdgeIn } from './mutations'
import { DEFAULT_SIZE, type BlockKind } from './schema'

export const SYSTEM_ORIGIN = { name: 'job-bookkeeping' }

export interface Rect { x: number; y: number; w: number; h: number }

const overlaps = (a: Rect, b: Rect, pad = 20) =>
  a.x < b.x + b.w + pad && b.x < a.x + a.w + pad && a.y < b.y + b.h + pad && b.y < a.y + a.h + pad

/**
 * Where n outputs go: beside the inputs, to the right, starting level with their top
 * (never above or left of them): one column, or a 2×2 grid for four images (variations).
 * The group moves down together past any block already there (`others`), so a new run
 * never lands on an earlier one and keeps its shape.
 */
export function outputPositions(inputs: readonly Rect[], n: number, kind: BlockKind,
  others: readonly Rect[] = [], gap = 80): { x: number; y: number }[] {
  const { w, h } = DEFAULT_SIZE[kind]
  const right = inputs.length ? Math.max(...inputs.map((r) => r.x + r.w)) : 0
  const top = inputs.length ? Math.min(...inputs.map((r) => r.y)) : 0
  const cols = n === 4 && kind === 'image' ? 2 : 1
  const base = Array.from({ length: n }, (_, i) => ({
    x: right + gap + (i % cols) * (w + 40), y: top + Math.floor(i / cols) * (h + 40),
  }))
  let dy = 0
  for (let guard = 0; guard < 500; guard++) {
    let next = dy
    for (const b of base) {
      const hit = others.find((r) => overlaps({ x: b.x, y: b.y + dy, w, h }, r))
      if (hit) next = Math.max(next, hit.y + hit.h + 40 - b.y)
    }
    if (next === dy) break
    dy = next
  }
  return base.map((b) => ({ x: b.x, y: b.y + dy }))
}

function rectOf(b: { get: (k: string) => unknown }): Rect {
  const kind = b.get('kind') === 'image' ? 'image' : 'text'
  return {
    x: Number(b.get('x') ?? 0), y: Number(b.get('y') ?? 0),
    w: Number(b.get('w') ?? DEFAULT_SIZE[kind].w), h: Number(b.get('h') ?? DEFAULT_SIZE[kind].h),
  }
}

export function createOutputs(c: Connection, opts: {
  tool: string; inputs: readonly string[]; kind: BlockKind; count: number; author: string
}): string[] {
  const rects: Rect[] = []
  const others: Rect[] = []
  c.blocks.forEach((b, id) => (opts.inputs.includes(id) ? rects : others).push(rectOf(b)))
  const spots = outputPositions(rects, opts.count, opts.kind, others)
  c.undoManager.stopCapturing()
  const ids = c.transact(() => spots.map((p) => {
    const id = addBlockIn(c.blocks, { kind: opts.kind, x: p.x, y: p.y, status: 'queued', tool: opts.tool, author: opts.author })
    for (const src of opts.inputs) addEdgeIn(c.edges, src, id, opts.tool)
    return id
  }))
  c.undoManager.stopCapturing()
  return ids
}

/** Removes outputs whose job could not start (not part of anyone's undo). */
export function removeOutputs(c: Connection, ids: readonly string[]): void {
  const gone = new Set(ids)
  c.doc.transact(() => {
    for (const id of ids) c.blocks.delete(id)
    for (const [eid, e] of Array.from(c.edges.entries())) {
      if (gone.has(e.get('target') as string) || gone.has(e.get('source') as string)) c.edges.delete(eid)
    }
  }, SYSTEM_ORIGIN)
}

export function markOutputs(c: Connection, ids: readonly string[], fields: Record<string, unknown>): void {
  c.doc.transact(() => {
    for (const id of ids) {
      const b = c.blocks.get(id)
      if (!b) continue
      for (const [k, v] of Object.entries(fields)) b.set(k, v)
    }
  }, SYSTEM_ORIGIN)
}
