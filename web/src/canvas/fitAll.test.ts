import { describe, expect, it } from 'vitest'
import { PHONE_READABLE_ZOOM, READABLE_ZOOM, boundsOf, fitTarget, fitViewport, zoomToFit } from './fitAll'

const pane = { width: 1400, height: 800 }
const block = (x: number, y: number, createdAt = 0, selected = false) =>
  ({ position: { x, y }, width: 260, height: 150, selected, data: { createdAt } })

describe('boundsOf', () => {
  it('spans every node by its own size, measured or not', () => {
    expect(boundsOf([])).toBeNull()
    expect(boundsOf([
      { position: { x: 10, y: 20 }, width: 100, height: 50 },
      { position: { x: -30, y: 200 }, width: 10, height: 10 },
    ])).toEqual({ x: -30, y: 20, width: 140, height: 190 })
  })
})

describe('fitTarget', () => {
  it('is everything when everything can be read', () => {
    const nodes = [block(0, 0), block(600, 300)]
    expect(fitTarget(nodes, pane)).toEqual({ x: 0, y: 0, width: 860, height: 450 })
  })

  it('is the selection when there is one', () => {
    const nodes = [block(0, 0), block(600, 300, 0, true), block(9000, 9000)]
    expect(fitTarget(nodes, pane)).toEqual({ x: 600, y: 300, width: 260, height: 150 })
  })

  it('is the newest work on a canvas too large to read whole, at a readable zoom', () => {
    // 40 x 25 blocks; the newest are the last rows.
    const nodes = []
    for (let r = 0; r < 25; r++) for (let c = 0; c < 40; c++) nodes.push(block(c * 340, r * 220, r * 40 + c))
    const whole = boundsOf(nodes)!
    expect(zoomToFit(whole, pane)).toBeLessThan(READABLE_ZOOM)
    const box = fitTarget(nodes, pane)!
    expect(zoomToFit(box, pane)).toBeGreaterThanOrEqual(READABLE_ZOOM)
    // It holds the newest block (bottom right), and is not a single block either.
    expect(box.x + box.width).toBe(39 * 340 + 260)
    expect(box.y + box.height).toBe(24 * 220 + 150)
    expect(box.width).toBeGreaterThan(1000)
  })

  it('is the newest block alone when even two blocks are too far apart to read', () => {
    const nodes = [block(0, 0, 1), block(100000, 0, 2)]
    expect(fitTarget(nodes, pane)).toEqual({ x: 100000, y: 0, width: 260, height: 150 })
  })
})

describe('fitViewport', () => {
  it('keeps the fitted blocks above the strip the minimap covers', () => {
    const box = { x: 0, y: 0, width: 1200, height: 700 }
    const vp = fitViewport(box, pane, 165)
    expect(vp.y + (box.y + box.height) * vp.zoom).toBeLessThanOrEqual(pane.height - 165)
    expect(vp.y + box.y * vp.zoom).toBeGreaterThanOrEqual(0)
  })

  it('starts a part of the canvas at the left edge, so no block shows cut off there', () => {
    const phone = { width: 390, height: 796 }
    const box = { x: 1000, y: 0, width: 400, height: 150 }
    const vp = fitViewport(box, phone, 0, false)
    expect(vp.zoom).toBeGreaterThanOrEqual(READABLE_ZOOM)
    expect(vp.x + box.x * vp.zoom).toBe(16)
    // a block ending 60 px left of the box is wholly out of view
    expect(vp.x + (box.x - 60) * vp.zoom).toBeLessThan(0)
  })
})

describe('a phone', () => {
  it('fits the newest blocks at a zoom its text can be read at', () => {
    const phone = { width: 390, height: 796 }
    const nodes = [0, 1, 2, 3].map((c) => block(c * 340, 0, c))
    const box = fitTarget(nodes, phone)!
    expect(zoomToFit(box, phone)).toBeGreaterThanOrEqual(PHONE_READABLE_ZOOM)
    expect(box.x).toBe(3 * 340)
    expect(fitViewport(box, phone, 0, false).zoom).toBeGreaterThanOrEqual(PHONE_READABLE_ZOOM)
  })
})
