import { describe, expect, it } from 'vitest'
import { creditLine } from './creditLine'

describe('creditLine', () => {
  it('names the author first, then the others', () => {
    expect(creditLine({ names: ['Alice'], others: 0 })).toBe('Grown by Alice')
    expect(creditLine({ names: ['Alice', 'Bob'], others: 0 })).toBe('Grown by Alice with Bob')
    expect(creditLine({ names: ['Alice', 'Bob', 'Cy'], others: 0 })).toBe('Grown by Alice with Bob and Cy')
  })
  it('counts those without a name', () => {
    expect(creditLine({ names: ['Alice'], others: 1 })).toBe('Grown by Alice with 1 other')
    expect(creditLine({ names: ['Alice', 'Bob'], others: 2 })).toBe('Grown by Alice with Bob and 2 others')
  })
  it('says nothing without names', () => {
    expect(creditLine({ names: [], others: 3 })).toBe('')
    expect(creditLine(undefined)).toBe('')
  })
})
