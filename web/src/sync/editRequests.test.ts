import { describe, expect, it } from 'vitest'
import { onEditRequest, requestEdit, takeEditRequest } from './editRequests'

describe('edit requests', () => {
  it('answers true once for a block just created, false otherwise', () => {
    requestEdit('b1')
    expect(takeEditRequest('b2')).toBe(false)
    expect(takeEditRequest('b1')).toBe(true)
    expect(takeEditRequest('b1')).toBe(false)
  })
})

describe('edit requests for a block already drawn', () => {
  it('reach its listener at once instead of waiting for a mount', () => {
    let heard = 0
    const stop = onEditRequest('drawn', () => { heard++ })
    requestEdit('drawn')
    expect(heard).toBe(1)
    expect(takeEditRequest('drawn')).toBe(false)
    stop()
    requestEdit('drawn')
    expect(heard).toBe(1)
    expect(takeEditRequest('drawn')).toBe(true)
  })
})
