import { describe, expect, it } from 'vitest'
import { outputPositions } from './runTool'

describe('outputPositions', () => {
  it('puts outputs in a column right of the inputs, level with their top', () => {
    const spots = outputPositions([{ x: 0, y: 0, w: 260, h: 150 }], 1, 'text')
    expect(spots).toEqual([{ x: 340, y: 0 }])
    const two = outputPositions([{ x: 0, y: 0, w: 260, h: 150 }], 2, 'text')
    expect(two[0].x).toBe(340)
    expect(two[1].y - two[0].y).toBe(190)
  })

  it('moves past blocks already there', () => {
    const input = { x: 0, y: 0, w: 260, h: 150 }
    const earlier = { x: 340, y: 0, w: 260, h: 150 }
    const [spot] = outputPositions([input], 1, 'text', [earlier])
    expect(spot.x).toBe(340)
    expect(spot.y).toBe(190)
    const far = { x: 2000, y: 0, w: 260, h: 150 }
    expect(outputPositions([input], 1, 'text', [far])[0].y).toBe(0)
  })

  it('never puts outputs above their input, even when taller than it', () => {
    const input = { x: 0, y: 100, w: 260, h: 150 }
    for (const spot of outputPositions([input], 1, 'image')) expect(spot.y).toBeGreaterThanOrEqual(100)
  })

  it('lays four images out as a 2x2 grid that moves down as one', () => {
    const input = { x: 0, y: 0, w: 260, h: 150 }
    const grid = outputPositions([input], 4, 'image')
    expect(new Set(grid.map((s) => s.x)).size).toBe(2)
    expect(new Set(grid.map((s) => s.y)).size).toBe(2)
    const earlier = { x: 700, y: 0, w: 260, h: 280 }
    const moved = outputPositions([input], 4, 'image', [earlier])
    expect(moved[0].y).toBe(320)
    expect(moved[1].y).toBe(moved[0].y)
    expect(moved[2].y - moved[0].y).toBe(grid[2].y - grid[0].y)
  })
})
