import { describe, expect, it } from 'vitest'
import { boundsOf } from './fitAll'

describe('boundsOf', () => {
  it('spans every node by its own size, measured or not', () => {
    expect(boundsOf([])).toBeNull()
    expect(boundsOf([
      { position: { x: 10, y: 20 }, width: 100, height: 50 },
      { position: { x: -30, y: 200 }, width: 10, height: 10 },
    ])).toEqual({ x: -30, y: 20, width: 140, height: 190 })
  })
})
