import { describe, expect, it } from 'vitest'
import { HANDLE_PATTERN, secretFromHash } from '../../api/gallery'

describe('secretFromHash', () => {
  it('reads the secret of a recovery link', () => {
    const s = 'a'.repeat(43)
    expect(secretFromHash(`#secret=${s}`)).toBe(s)
    expect(secretFromHash(`secret=${s}&x=1`)).toBe(s)
  })
  it('refuses what cannot be a secret', () => {
    expect(secretFromHash('')).toBeNull()
    expect(secretFromHash('#secret=short')).toBeNull()
    expect(secretFromHash(`#secret=${'a'.repeat(30)}<script>`)).toBeNull()
    expect(secretFromHash(`#token=${'a'.repeat(43)}`)).toBeNull()
  })
})

describe('HANDLE_PATTERN', () => {
  it('matches what the server accepts', () => {
    expect(HANDLE_PATTERN.test('fox_fan')).toBe(true)
    expect(HANDLE_PATTERN.test('ab')).toBe(false)
    expect(HANDLE_PATTERN.test('Fox')).toBe(false)
    expect(HANDLE_PATTERN.test('x'.repeat(31))).toBe(false)
  })
})
