import { describe, expect, it } from 'vitest'
import { aspectRatio, coverSizes, renditionWidth, srcSet } from './imageSources'

const urls = { url: '/i/a.webp', thumb_url: '/i/a_1024.webp', small_url: '/i/a_256.webp' }

describe('srcSet', () => {
  it('lists each rendition at its real width', () => {
    expect(srcSet({ width: 2048, height: 1024, ...urls }))
      .toBe('/i/a_256.webp 256w, /i/a_1024.webp 1024w, /i/a.webp 2048w')
    expect(srcSet({ width: 1000, height: 2000, ...urls }))
      .toBe('/i/a_256.webp 128w, /i/a_1024.webp 512w, /i/a.webp 1000w')
  })
  it('names one candidate per width for a small image', () => {
    expect(srcSet({ width: 320, height: 240, ...urls })).toBe('/i/a_256.webp 256w, /i/a_1024.webp 320w')
    expect(srcSet({ width: 200, height: 100, ...urls })).toBe('/i/a_256.webp 200w')
  })
  it('gives nothing without dimensions or URLs', () => {
    expect(srcSet({ width: 0, height: 0, ...urls })).toBeUndefined()
    expect(srcSet({ width: 10, height: 10 })).toBeUndefined()
  })
})

describe('sizes and boxes', () => {
  it('widens the slot of a wide image drawn to cover a square', () => {
    expect(coverSizes({ width: 400, height: 400 }, '280px')).toBe('280px')
    expect(coverSizes({ width: 1600, height: 900 }, '280px')).toBe('calc(280px * 1.778)')
    expect(coverSizes({ width: 900, height: 1600 }, '280px')).toBe('280px')
  })
  it('rounds like the renditions', () => {
    expect(renditionWidth(1600, 900, 256)).toBe(256)
    expect(renditionWidth(900, 1600, 256)).toBe(144)
    expect(renditionWidth(900, 1600, null)).toBe(900)
  })
  it('reserves the box from the dimensions', () => {
    expect(aspectRatio({ width: 320, height: 240 })).toBe('320 / 240')
    expect(aspectRatio({ width: 0, height: 240 })).toBeUndefined()
  })
})
