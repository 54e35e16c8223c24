// How tall a text block grows to show its text: what the text needs, up to GROW_MAX, and
// never into a block below it (growing must not cover someone's work). It never shrinks:
// a block someone made taller by hand stays so.
import type { Rect } from './runTool'

export const GROW_MAX = 440
const GAP = 20
const STEP = 10

/**
 * The height block `r` should have to show `overflow` more pixels of text, or null when it
 * should stay as it is (nothing hidden, already at the limit, or no room below).
 */
export function grownHeight(r: Rect, overflow: number, others: Iterable<Rect>, max = GROW_MAX): number | null {
  if (overflow <= 1 || r.h >= max) return null
  let limit = max
  for (const o of others) {
    const besideX = o.x < r.x + r.w && r.x < o.x + o.w
    // Only blocks wholly below this one's current bottom limit it; one it already touches
    // (drawn over it before) does not stop it growing into the free space elsewhere.
    if (besideX && o.y >= r.y + r.h) limit = Math.min(limit, o.y - GAP - r.y)
  }
  const wanted = Math.ceil((r.h + overflow) / STEP) * STEP
  const h = Math.min(wanted, limit)
  return h > r.h ? h : null
}
