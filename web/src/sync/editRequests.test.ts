import { describe, expect, it } from 'vitest'
import { requestEdit, takeEditRequest } from './editRequests'

describe('edit requests', () => {
  it('answers true once for a block just created, false otherwise', () => {
    requestEdit('b1')
    expect(takeEditRequest('b2')).toBe(false)
    expect(takeEditRequest('b1')).toBe(true)
    expect(takeEditRequest('b1')).toBe(false)
  })
})
