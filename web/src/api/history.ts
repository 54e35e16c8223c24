// A canvas's checkpoints (server/api/history.py): list them, preview one, restore one.
import { api } from './client'
import { listNames, peopleLabels } from '../lib/labels'

export type CheckpointReason = 'auto' | 'unload' | 'before_restore' | 'manual'

export interface Checkpoint {
  id: number
  reason: CheckpointReason | string
  /** Display names of the people who changed the canvas since the checkpoint before
   * ("Arbor": edits the server made for tool runs). */
  authors: string[]
  size: number
  created_at: string
  /** On a `before_restore` checkpoint: who restored, and which version (its id and time). */
  restore?: { by: string | null; to: number | null; to_created_at: string | null } | null
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

/** Writes that checkpoint's content over the canvas; `before` holds the state just before.
 * `by`: the restoring person's display name, recorded with the restore. */
export const restoreCheckpoint = (room: string, token: string, id: number, by?: string) =>
  api<{ restored: Checkpoint; before: Checkpoint }>(`${historyPath(room)}/${id}/restore`, {
    method: 'POST', token, body: by ? { by } : {},
  })

const REASONS: Record<string, string> = {
  auto: 'Autosave',
  unload: 'Everyone left',
  before_restore: 'Before restore',
  manual: 'Saved by hand',
}

/** Why it was kept, as the end of a sentence ("kept when everyone left"). */
const KEPT: Record<string, string> = {
  auto: 'kept while working',
  unload: 'kept when everyone left',
  before_restore: 'kept before a restore',
  manual: 'saved by hand',
}

const pad = (n: number) => String(n).padStart(2, '0')

/** "18:05" today, "3 Dec 18:05" on another day (24-hour clock: the same for everyone). */
export function clockTime(iso: string, now: number = Date.now()): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`
  const today = new Date(now)
  if (d.toDateString() === today.toDateString()) return hm
  const day = d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })
  return `${day} ${hm}`
}

/** What a checkpoint says in the list: who worked (or who restored what), and why it was
 * kept. `{ who: "Alice restored 18:05", why: "the canvas just before" }`,
 * `{ who: "Ada and Ben worked, with tool runs", why: "kept when everyone left" }`. */
export function checkpointSummary(c: Checkpoint, now: number = Date.now()): { who: string; why: string } {
  if (c.reason === 'before_restore') {
    const by = c.restore?.by?.trim()
    const to = c.restore?.to_created_at ? clockTime(c.restore.to_created_at, now) : null
    const who = `${by || 'Someone'} restored ${to ?? 'an earlier version'}`
    return { who, why: 'the canvas just before' }
  }
  const names = peopleLabels(c.authors)
  const people = names.filter((n) => n !== 'tool runs')
  const tools = names.includes('tool runs')
  const who = people.length
    ? `${listNames(people)} worked${tools ? ', with tool runs' : ''}`
    : tools ? 'Tool runs' : 'No one changed it'
  return { who, why: KEPT[c.reason] ?? reasonLabel(c.reason).toLowerCase() }
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

/** Who changed the canvas: "Ada", "Ada and Ben", "Ada, Ben and 2 others" ("Arbor", the
 * server's own edits, as "tool runs"). */
export function authorsLabel(authors: readonly string[]): string {
  return listNames(peopleLabels(authors)) || 'someone'
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
