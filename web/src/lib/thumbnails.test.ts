import { describe, expect, it } from 'vitest'
import { MAX_BYTES, MAX_CANVASES, MAX_IMAGES, MAX_RECTS, makeThumb, parseThumbs, withThumb, type ThumbBlock } from './thumbnails'

const block = (i: number, over: Partial<ThumbBlock> = {}): ThumbBlock =>
  ({ x: i * 300, y: 0, w: 260, h: 150, kind: 'text', createdAt: i, imageKey: null, ...over })

describe('makeThumb', () => {
  it('scales the blocks into a picture whose longer side is 1000', () => {
    const t = makeThumb([block(0), block(1, { kind: 'image', imageKey: 'thumb-1', h: 260 })], 5)
    expect(t.w).toBe(1000)
    expect(t.rects).toHaveLength(2)
    expect(t.rects[0]).toEqual([0, 0, 464, 268, 0])
    expect(t.rects[1][4]).toBe(1)
    expect(t.images).toEqual([{ i: 1, key: 'thumb-1' }])
    expect(t.at).toBe(5)
  })

  it('keeps only the newest blocks and images', () => {
    const many = Array.from({ length: 200 }, (_, i) => block(i, { kind: 'image', imageKey: `k${i}` }))
    const t = makeThumb(many)
    expect(t.rects).toHaveLength(MAX_RECTS)
    expect(t.images).toHaveLength(MAX_IMAGES)
    expect(t.images[0].key).toBe('k199')
  })

  it('is an empty picture for an empty canvas', () => {
    expect(makeThumb([]).rects).toEqual([])
  })
})

describe('the stored pictures', () => {
  it('stay within the bounds, newest kept', () => {
    let all = {}
    const big = makeThumb(Array.from({ length: 200 }, (_, i) => block(i, { kind: 'image', imageKey: `image-key-${i}`.repeat(4) })))
    for (let i = 0; i < MAX_CANVASES + 20; i++) all = Object.fromEntries(withThumb(all, `room${i}`, { ...big, at: i }))
    const kept = Object.keys(all)
    expect(kept.length).toBeLessThanOrEqual(MAX_CANVASES)
    expect(JSON.stringify(all).length).toBeLessThanOrEqual(MAX_BYTES)
    expect(kept).toContain(`room${MAX_CANVASES + 19}`)
  })

  it('ignore what is not a picture', () => {
    expect(parseThumbs('{"a": {"w": 1}, "b": 3}')).toEqual({})
    expect(parseThumbs('not json')).toEqual({})
    const t = makeThumb([block(0)])
    expect(parseThumbs(JSON.stringify({ r: t }))).toEqual({ r: t })
  })
})
