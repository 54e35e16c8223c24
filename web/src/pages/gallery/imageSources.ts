// Which rendition a browser should fetch: every published image has three (256 px, 1024 px
// on the longest side, and the full image), each at a URL that never changes, so the
// browser picks from a srcset and keeps what it fetched for good.

export interface Renditions {
  width: number
  height: number
  url?: string
  thumb_url?: string
  small_url?: string
}

const SIZES: [keyof Renditions, number | null][] = [['small_url', 256], ['thumb_url', 1024], ['url', null]]

/** The pixel width of the rendition whose longest side is at most `side` (null: the full image). */
export function renditionWidth(width: number, height: number, side: number | null): number {
  if (side === null || Math.max(width, height) <= side) return Math.round(width)
  return Math.max(1, Math.round((width * side) / Math.max(width, height)))
}

/** `srcset` over the renditions, smallest first, one candidate per width (an image smaller
 * than 1024 px has the same pixels under two names: the smaller-named one is enough). */
export function srcSet(image: Renditions): string | undefined {
  if (!(image.width > 0 && image.height > 0)) return undefined
  const seen = new Set<number>()
  const out: string[] = []
  for (const [field, side] of SIZES) {
    const url = image[field]
    if (typeof url !== 'string' || !url) continue
    const w = renditionWidth(image.width, image.height, side)
    if (seen.has(w)) continue
    seen.add(w)
    out.push(`${url} ${w}w`)
  }
  return out.length ? out.join(', ') : undefined
}

/** `sizes` for an image drawn to cover a square box `slot` wide (the grid's cards): a wide
 * image is drawn wider than its box, by its aspect ratio. */
export function coverSizes(image: Renditions, slot: string): string {
  const ratio = image.width > 0 && image.height > 0 ? Math.max(1, image.width / image.height) : 1
  return ratio === 1 ? slot : `calc(${slot} * ${ratio.toFixed(3)})`
}

/** The CSS aspect ratio that reserves an image's box before it loads. */
export function aspectRatio(image: Renditions): string | undefined {
  return image.width > 0 && image.height > 0 ? `${image.width} / ${image.height}` : undefined
}
