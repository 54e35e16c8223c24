// A canvas's checkpoints (server/api/history.py): list them, preview one, restore one.
import { api } from './client'

export type CheckpointReason = 'auto' | 'unload' | 'before_restore' | 'manual'

export interface Checkpoint {
  id: number
  reason: CheckpointReason | string
  /** Display names of the people who changed the canvas since the checkpoint before. */
  authors: string[]
  size: number
  created_at: string
}

export interface PreviewBlock {
  kind?: string
  x?: number
  y?: number
  w?: number
  h?: number
  text?: string
  image?: { key?: string; thumbKey?: string; width?: number; height?: number } | null
  tool?: string
}

export interface PreviewCanvas {
  blocks: Record<string, PreviewBlock>
  edges: Record<string, { source?: string; target?: string }>
  meta: { title?: string; [k: string]: unknown }
}

export interface CheckpointDetail extends Checkpoint {
  canvas: PreviewCanvas
}

const historyPath = (room: string) => `/api/rooms/${encodeURIComponent(room)}/history`

/** Newest first. */
export const listHistory = (room: string, token: string, signal?: AbortSignal) =>
  api<{ checkpoints: Checkpoint[] }>(historyPath(room), { token, signal })

export const getCheckpoint = (room: string, token: string, id: number, signal?: AbortSignal) =>
  api<CheckpointDetail>(`${historyPath(room)}/${id}`, { token, signal })

/** Writes that checkpoint's content over the canvas; `before` holds the state just before. */
export const restoreCheckpoint = (room: string, token: string, id: number) =>
  api<{ restored: Checkpoint; before: Checkpoint }>(`${historyPath(room)}/${id}/restore`, {
    method: 'POST', token,
  })

const REASONS: Record<string, string> = {
  auto: 'Autosave',
  unload: 'Everyone left',
  before_restore: 'Before restore',
  manual: 'Saved by hand',
}

/** A label for why a checkpoint was made ("Before restore"). */
export function reasonLabel(reason: string): string {
  return REASONS[reason] ?? (reason ? reason[0].toUpperCase() + reason.slice(1).replace(/_/g, ' ') : 'Checkpoint')
}

/** "just now", "12 min ago", "3 h ago", "yesterday", "5 days ago", or the date. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const at = Date.parse(iso)
  if (Number.isNaN(at)) return iso
  const s = Math.round((now - at) / 1000)
  if (s < 45) return 'just now'
  const min = Math.round(s / 60)
  if (min < 60) return `${min} min ago`
  const h = Math.round(min / 60)
  if (h < 24) return `${h} h ago`
  const d = Math.round(h / 24)
  if (d === 1) return 'yesterday'
  if (d < 7) return `${d} days ago`
  return new Date(at).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' })
}

/** Who changed the canvas: "Ada", "Ada and Ben", "Ada, Ben and 2 others". */
export function authorsLabel(authors: readonly string[]): string {
  const names = authors.filter((a) => a && a.trim())
  if (names.length === 0) return 'someone'
  if (names.length === 1) return names[0]
  if (names.length === 2) return `${names[0]} and ${names[1]}`
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]}`
  return `${names[0]}, ${names[1]} and ${names.length - 2} others`
}

export interface PreviewRect {
  id: string
  left: number
  top: number
  width: number
  height: number
  block: PreviewBlock
}

/**
 * Where each block goes in a box of at most `maxW` × `maxH` pixels: the canvas's bounding
 * box scaled to fit (never enlarged), with a margin. Returns the box size too.
 */
export function layoutPreview(blocks: Record<string, PreviewBlock>, maxW: number, maxH: number, pad = 8):
  { width: number; height: number; scale: number; rects: PreviewRect[] } {
  const list = Object.entries(blocks).map(([id, b]) => ({
    id, block: b,
    x: num(b.x), y: num(b.y), w: Math.max(1, num(b.w, 260)), h: Math.max(1, num(b.h, 150)),
  }))
  if (list.length === 0) return { width: maxW, height: Math.min(maxH, 80), scale: 1, rects: [] }
  const minX = Math.min(...list.map((b) => b.x))
  const minY = Math.min(...list.map((b) => b.y))
  const spanW = Math.max(...list.map((b) => b.x + b.w)) - minX
  const spanH = Math.max(...list.map((b) => b.y + b.h)) - minY
  const scale = Math.min(1, (maxW - 2 * pad) / spanW, (maxH - 2 * pad) / spanH)
  return {
    width: Math.ceil(spanW * scale + 2 * pad),
    height: Math.ceil(spanH * scale + 2 * pad),
    scale,
    rects: list.map((b) => ({
      id: b.id, block: b.block,
      left: pad + (b.x - minX) * scale, top: pad + (b.y - minY) * scale,
      width: b.w * scale, height: b.h * scale,
    })),
  }
}

function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback
}
