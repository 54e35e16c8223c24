import { describe, expect, it } from 'vitest'
import { COLORS, COLOR_NAMES, generateName, pickColor } from './identity'

describe('made-up identities', () => {
  it('are two friendly words', () => {
    for (let i = 0; i < 50; i++) expect(generateName()).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/)
  })

  it('avoid the names and colours already taken while any are left', () => {
    const taken = new Set<string>()
    for (let i = 0; i < 200; i++) taken.add(generateName())
    for (let i = 0; i < 50; i++) expect(taken.has(generateName(taken))).toBe(false)
    const free = COLORS[3]
    for (let i = 0; i < 20; i++) expect(pickColor(COLORS.filter((c) => c !== free))).toBe(free)
    expect(COLORS).toContain(pickColor(COLORS))
  })

  it('name every colour in words', () => {
    for (const c of COLORS) expect(COLOR_NAMES[c]).toMatch(/^[A-Z][a-z]+$/)
  })
})
