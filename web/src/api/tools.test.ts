import { describe, expect, it } from 'vitest'
import { outputCount, outputKind, toolAccepts, type Tool } from './tools'
import { parseRetryAfter } from './client'

const tool = (over: Partial<Tool>): Tool => ({
  name: 't', label: 'T', inputs: { kinds: ['text'], min: 1, max: 1 }, output: 'text', params: [], ...over,
})

describe('tools', () => {
  it('accepts only the kinds and counts a tool takes', () => {
    const expand = tool({})
    expect(toolAccepts(expand, ['text'])).toBe(true)
    expect(toolAccepts(expand, [])).toBe(false)
    expect(toolAccepts(expand, ['image'])).toBe(false)
    expect(toolAccepts(expand, ['text', 'text'])).toBe(false)
    const gen = tool({ inputs: { kinds: ['image', 'text'], min: 1, max: 8, min_text: 1 } })
    expect(toolAccepts(gen, ['image'])).toBe(false)
    expect(toolAccepts(gen, ['image', 'text'])).toBe(true)
  })

  it('reads output kind and count in both shapes', () => {
    expect(outputKind(tool({ output: 'image' }))).toBe('image')
    expect(outputKind(tool({ output: { kind: 'image', count: 2 } }))).toBe('image')
    expect(outputCount(tool({ output: { kind: 'image', count: 2 } }))).toBe(2)
    expect(outputCount(tool({ outputs: 3 }))).toBe(3)
    expect(outputCount(tool({ outputs: 99 }))).toBe(8)
    expect(outputCount(tool({}))).toBe(1)
  })

  it('reads Retry-After as seconds or a date', () => {
    expect(parseRetryAfter('12')).toBe(12)
    expect(parseRetryAfter(null)).toBeNull()
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 0)).toBe(10)
    expect(parseRetryAfter('soon')).toBeNull()
  })
})
