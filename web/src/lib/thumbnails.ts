// A small picture of each canvas for the home page: the newest blocks' rectangles, and the
// newest images, captured when the person leaves the canvas. Kept in this browser only
// (localStorage), bounded: at most MAX_RECTS blocks and MAX_IMAGES images per canvas, at
// most MAX_CANVASES canvases, at most MAX_BYTES in all.

export type ThumbRect = [x: number, y: number, w: number, h: number, image: 0 | 1]

export interface Thumb {
  /** Width and height of the picture, in its own units (the longer side is SCALE). */
  w: number
  h: number
  rects: ThumbRect[]
  /** Images drawn in rectangles: index into `rects`, and the image's key (its thumbnail). */
  images: { i: number; key: string }[]
  at: number
}

export interface ThumbBlock {
  x: number; y: number; w: number; h: number
  kind: 'text' | 'image'
  createdAt: number
  imageKey: string | null
}

const KEY = 'arbor.thumbs'
export const MAX_RECTS = 60
export const MAX_IMAGES = 4
export const MAX_CANVASES = 50
export const MAX_BYTES = 150_000
const SCALE = 1000

function store(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage
  } catch {
    return null
  }
}

/** The picture of a canvas holding `blocks` (an empty picture for an empty canvas). */
export function makeThumb(blocks: readonly ThumbBlock[], now = Date.now()): Thumb {
  const newest = [...blocks].sort((a, b) => b.createdAt - a.createdAt).slice(0, MAX_RECTS)
  if (newest.length === 0) return { w: SCALE, h: SCALE * 0.6, rects: [], images: [], at: now }
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity
  for (const b of newest) {
    x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y)
    x1 = Math.max(x1, b.x + b.w); y1 = Math.max(y1, b.y + b.h)
  }
  const k = SCALE / Math.max(1, x1 - x0, y1 - y0)
  const r = (v: number) => Math.round(v * k)
  // Oldest first, so newer blocks are drawn on top as on the canvas.
  const drawn = newest.reverse()
  const rects: ThumbRect[] = drawn.map((b) =>
    [r(b.x - x0), r(b.y - y0), Math.max(1, r(b.w)), Math.max(1, r(b.h)), b.kind === 'image' ? 1 : 0])
  const images: Thumb['images'] = []
  for (let i = drawn.length - 1; i >= 0 && images.length < MAX_IMAGES; i--) {
    const key = drawn[i].imageKey
    if (key) images.push({ i, key })
  }
  return { w: Math.max(1, r(x1 - x0)), h: Math.max(1, r(y1 - y0)), rects, images, at: now }
}

function valid(t: unknown): t is Thumb {
  if (t == null || typeof t !== 'object') return false
  const v = t as Partial<Thumb>
  return typeof v.w === 'number' && typeof v.h === 'number' && typeof v.at === 'number' &&
    Array.isArray(v.rects) && v.rects.every((r) => Array.isArray(r) && r.length === 5 && r.every((n) => typeof n === 'number')) &&
    Array.isArray(v.images) && v.images.every((im) => im != null && typeof im.i === 'number' && typeof im.key === 'string')
}

export function parseThumbs(raw: string | null): Record<string, Thumb> {
  if (!raw) return {}
  try {
    const v: unknown = JSON.parse(raw)
    if (v == null || typeof v !== 'object' || Array.isArray(v)) return {}
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter((e): e is [string, Thumb] => valid(e[1])))
  } catch {
    return {}
  }
}

export function loadThumbs(): Record<string, Thumb> {
  return parseThumbs(store()?.getItem(KEY) ?? null)
}

/** The stored pictures with `room`'s set to `thumb`, newest first, within the bounds. */
export function withThumb(all: Record<string, Thumb>, room: string, thumb: Thumb): [string, Thumb][] {
  const entries = [[room, thumb] as [string, Thumb], ...Object.entries(all).filter(([r]) => r !== room)]
    .sort((a, b) => b[1].at - a[1].at)
    .slice(0, MAX_CANVASES)
  while (entries.length > 1 && JSON.stringify(Object.fromEntries(entries)).length > MAX_BYTES) entries.pop()
  return entries
}

export function saveThumb(room: string, thumb: Thumb): void {
  const s = store()
  if (!s) return
  try {
    s.setItem(KEY, JSON.stringify(Object.fromEntries(withThumb(loadThumbs(), room, thumb))))
  } catch {
    // storage full or private mode: the home page shows no picture for this canvas
  }
}

export function forgetThumb(room: string): void {
  const s = store()
  if (!s) return
  const all = loadThumbs()
  if (!(room in all)) return
  delete all[room]
  s.setItem(KEY, JSON.stringify(all))
}
