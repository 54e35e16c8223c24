import { describe, expect, it } from 'vitest'
import { GROW_MAX, grownHeight } from './growth'

const block = { x: 0, y: 0, w: 260, h: 150 }

describe('grownHeight', () => {
  it('grows by what the text needs, in steps of 10 px', () => {
    expect(grownHeight(block, 33, [])).toBe(190)
  })
  it('stops at the limit and then stays', () => {
    expect(grownHeight(block, 5000, [])).toBe(GROW_MAX)
    expect(grownHeight({ ...block, h: GROW_MAX }, 50, [])).toBeNull()
  })
  it('does nothing when no text is hidden', () => {
    expect(grownHeight(block, 0, [])).toBeNull()
  })
  it('never grows into a block below, only up to 20 px above it', () => {
    const below = { x: 100, y: 230, w: 260, h: 150 }
    expect(grownHeight(block, 300, [below])).toBe(210)
    expect(grownHeight(block, 300, [{ ...below, y: 170 }])).toBeNull()
  })
  it('ignores blocks beside it or above it', () => {
    expect(grownHeight(block, 100, [{ x: 300, y: 160, w: 100, h: 100 }, { x: 0, y: -200, w: 260, h: 150 }])).toBe(250)
  })
})
