// Running a tool: output blocks are created in their own undoable transaction (so undo
// removes them, and the server cancels a job whose output block is gone), then the job
// is asked for. Bookkeeping afterwards (job id, errors) is not part of anyone's undo.
import type { Connection } from './connection'
import { addBlockIn, addEdgeIn } from './mutations'
import { DEFAULT_SIZE, type BlockKind } from './schema'

export const SYSTEM_ORIGIN = { name: 'job-bookkeeping' }

export interface Rect { x: number; y: number; w: number; h: number }

/** Where n outputs go: a column to the right of the inputs. */
export function outputPositions(inputs: readonly Rect[], n: number, kind: BlockKind, gap = 80): { x: number; y: number }[] {
  const { h } = DEFAULT_SIZE[kind]
  const right = inputs.length ? Math.max(...inputs.map((r) => r.x + r.w)) : 0
  const top = inputs.length ? Math.min(...inputs.map((r) => r.y)) : 0
  const bottom = inputs.length ? Math.max(...inputs.map((r) => r.y + r.h)) : h
  const total = n * h + (n - 1) * 40
  const start = (top + bottom) / 2 - total / 2
  return Array.from({ length: n }, (_, i) => ({ x: right + gap, y: start + i * (h + 40) }))
}

export function createOutputs(c: Connection, opts: {
  tool: string; inputs: readonly string[]; kind: BlockKind; count: number; author: string
}): string[] {
  const rects: Rect[] = []
  for (const id of opts.inputs) {
    const b = c.blocks.get(id)
    if (!b) continue
    rects.push({ x: Number(b.get('x') ?? 0), y: Number(b.get('y') ?? 0), w: Number(b.get('w') ?? 260), h: Number(b.get('h') ?? 150) })
  }
  const spots = outputPositions(rects, opts.count, opts.kind)
  c.undoManager.stopCapturing()
  const ids = c.transact(() => spots.map((p) => {
    const id = addBlockIn(c.blocks, { kind: opts.kind, x: p.x, y: p.y, status: 'queued', tool: opts.tool, author: opts.author })
    for (const src of opts.inputs) addEdgeIn(c.edges, src, id, opts.tool)
    return id
  }))
  c.undoManager.stopCapturing()
  return ids
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
