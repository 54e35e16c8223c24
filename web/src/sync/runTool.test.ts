import { describe, expect, it } from 'vitest'
import { outputPositions } from './runTool'

describe('outputPositions', () => {
  it('puts outputs in a column right of the inputs, centred on them', () => {
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
})
