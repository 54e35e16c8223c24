// Pure conversions from the Yjs document to what React Flow draws. Yjs is the source of
// truth; selection, drag positions and measured sizes stay local and survive remote edits.
import * as Y from 'yjs'
import type { Edge, Node } from '@xyflow/react'
import { cachedTools, toolLabel } from '../api/tools'
import { DEFAULT_SIZE, isBlockKind, isStatus, type BlockKind, type ImageRef, type Status } from './schema'

export interface BlockData extends Record<string, unknown> {
  kind: BlockKind
  w: number
  h: number
  status: Status
  progress: number | null
  error: string | null
  jobId: string | null
  tool: string | null
  author: string | null
  createdAt: number | null
  model: string | null
  image: ImageRef | null
}

export type TextNode = Node<BlockData, 'text'>
export type ImageNode = Node<BlockData, 'image'>
export type ArborNode = TextNode | ImageNode

export interface EdgeData extends Record<string, unknown> {
  tool: string | null
}
export type ArborEdge = Edge<EdgeData>

export interface BlockSnapshot {
  id: string
  x: number
  y: number
  data: BlockData
}

const num = (v: unknown, fallback: number): number =>
  typeof v === 'number' && Number.isFinite(v) ? v : fallback
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)

function readImage(v: unknown): ImageRef | null {
  if (v instanceof Y.Map) v = v.toJSON()
  if (v == null || typeof v !== 'object') return null
  const o = v as Record<string, unknown>
  const key = str(o.key)
  if (key == null) return null
  return {
    key,
    width: num(o.width, 0),
    height: num(o.height, 0),
    mime: str(o.mime) ?? '',
    thumbKey: str(o.thumbKey) ?? undefined,
  }
}

/** One block's plain state, or null when the entry is not a usable block. */
export function readBlock(id: string, block: unknown): BlockSnapshot | null {
  if (!(block instanceof Y.Map)) return null
  const kindRaw = block.get('kind')
  const kind: BlockKind = isBlockKind(kindRaw) ? kindRaw : 'text'
  const status = block.get('status')
  const progress = block.get('progress')
  return {
    id,
    x: num(block.get('x'), 0),
    y: num(block.get('y'), 0),
    data: {
      kind,
      w: Math.max(40, num(block.get('w'), DEFAULT_SIZE[kind].w)),
      h: Math.max(40, num(block.get('h'), DEFAULT_SIZE[kind].h)),
      status: isStatus(status) ? status : 'idle',
      progress: typeof progress === 'number' && Number.isFinite(progress)
        ? Math.min(1, Math.max(0, progress)) : null,
      error: str(block.get('error')),
      jobId: str(block.get('jobId')),
      tool: str(block.get('tool')),
      author: str(block.get('author')),
      createdAt: typeof block.get('createdAt') === 'number' ? (block.get('createdAt') as number) : null,
      model: str(block.get('model')),
      image: readImage(block.get('image')),
    },
  }
}

export function readBlocks<T>(blocks: Y.Map<T>): BlockSnapshot[] {
  const out: BlockSnapshot[] = []
  blocks.forEach((value, id) => {
    const b = readBlock(id, value)
    if (b) out.push(b)
  })
  // Stable order: oldest first, so newer blocks draw on top and order never flickers.
  out.sort((a, b) => (a.data.createdAt ?? 0) - (b.data.createdAt ?? 0) || (a.id < b.id ? -1 : 1))
  return out
}

function sameData(a: BlockData, b: BlockData): boolean {
  for (const k of Object.keys(b) as (keyof BlockData)[]) {
    if (k === 'image') continue
    if (a[k] !== b[k]) return false
  }
  const ia = a.image
  const ib = b.image
  if (ia === ib) return true
  if (ia == null || ib == null) return false
  return ia.key === ib.key && ia.thumbKey === ib.thumbKey && ia.width === ib.width &&
    ia.height === ib.height && ia.mime === ib.mime
}

/**
 * Nodes for the given blocks, keeping what is local to this person from `prev`: selection,
 * measured size, and the position of anything being dragged right now. A node whose block did
 * not change is returned as the same object, so memoised nodes do not re-render.
 */
export function mergeNodes(prev: readonly ArborNode[], blocks: readonly BlockSnapshot[],
  readOnly = false): ArborNode[] {
  const byId = new Map(prev.map((n) => [n.id, n]))
  return blocks.map((b) => {
    const old = byId.get(b.id)
    const dragging = old?.dragging === true
    const position = dragging && old ? old.position : { x: b.x, y: b.y }
    if (old && old.type === b.data.kind && sameData(old.data, b.data) &&
        old.position.x === position.x && old.position.y === position.y &&
        old.width === b.data.w && old.height === b.data.h &&
        old.draggable === !readOnly) {
      return old
    }
    const node: ArborNode = {
      id: b.id,
      type: b.data.kind,
      position,
      data: b.data,
      width: b.data.w,
      height: b.data.h,
      draggable: !readOnly,
      connectable: !readOnly,
      deletable: !readOnly,
      selected: old?.selected ?? false,
      dragging: old?.dragging,
      measured: old?.measured,
    } as ArborNode
    return node
  })
}

export function readEdges<T>(edges: Y.Map<T>, blockIds: ReadonlySet<string>): ArborEdge[] {
  const out: ArborEdge[] = []
  edges.forEach((value, id) => {
    if (!(value instanceof Y.Map)) return
    const source = str(value.get('source'))
    const target = str(value.get('target'))
    // An edge whose end was deleted is not drawn (its block is gone, maybe by another person).
    if (!source || !target || !blockIds.has(source) || !blockIds.has(target)) return
    const tool = str(value.get('tool'))
    // The label is the tool's name in words ("Generate image"), never its id.
    out.push({ id, source, target, data: { tool }, label: tool ? toolLabel(tool, cachedTools()) : undefined })
  })
  out.sort((a, b) => (a.id < b.id ? -1 : 1))
  return out
}

/** Keep local edge selection across remote changes; reuse unchanged edge objects. */
export function mergeEdges(prev: readonly ArborEdge[], next: readonly ArborEdge[]): ArborEdge[] {
  const byId = new Map(prev.map((e) => [e.id, e]))
  return next.map((e) => {
    const old = byId.get(e.id)
    if (old && old.source === e.source && old.target === e.target && old.data?.tool === e.data?.tool) {
      return old
    }
    return { ...e, selected: old?.selected ?? false }
  })
}
