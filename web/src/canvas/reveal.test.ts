import { describe, expect, it } from 'vitest'
import { revealViewport } from './reveal'

const pane = { width: 1000, height: 600 }

describe('revealViewport', () => {
  it('leaves the view alone when the outputs are in it', () => {
    expect(revealViewport({ x: 0, y: 0, zoom: 1 }, pane, { x: 100, y: 100, width: 280, height: 200 })).toBeNull()
  })

  it('pans just enough to show outputs past the right edge, keeping the zoom', () => {
    const vp = revealViewport({ x: 0, y: 0, zoom: 1 }, pane, { x: 900, y: 100, width: 280, height: 200 })
    expect(vp).toEqual({ x: -(900 + 280 + 40 - 1000), y: 0, zoom: 1 })
  })

  it('pans up for outputs above the view, at any zoom', () => {
    const vp = revealViewport({ x: 0, y: 0, zoom: 0.5 }, pane, { x: 100, y: -500, width: 280, height: 200 })!
    expect(vp.zoom).toBe(0.5)
    expect(-vp.y / 0.5).toBe(-500 - 80)
  })

  it('zooms out to fit a group larger than the view, but not past a readable zoom', () => {
    const vp = revealViewport({ x: 0, y: 0, zoom: 1 }, pane, { x: 0, y: 0, width: 1500, height: 300 })!
    expect(vp.zoom).toBeLessThan(1)
    expect(vp.zoom).toBeGreaterThanOrEqual(0.35)
    const far = revealViewport({ x: 0, y: 0, zoom: 1 }, pane, { x: 0, y: 0, width: 50000, height: 300 })!
    expect(far.zoom).toBe(0.35)
  })
})
