import { describe, expect, it } from 'vitest'
import { outputCount, outputKind, paramsFor, toolAccepts, toolFits, toolLabel, whyNot, type BlockFacts, type Tool } from './tools'
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

  it('names tools in words', () => {
    expect(toolLabel('generate_image', [tool({ name: 'generate_image', label: 'Generate image' })])).toBe('Generate image')
    expect(toolLabel('image_to_json')).toBe('Image to json')
  })

  it('sends only the parameters a tool takes (Split takes none, so never a model)', () => {
    const split = tool({ name: 'split', params: [] })
    expect(paramsFor(split, { model: 'offline:text' })).toEqual({})
    const expand = tool({ params: [{ name: 'model' }, { name: 'words' }] })
    expect(paramsFor(expand, { model: 'm', words: 40, seed: 3 })).toEqual({ model: 'm', words: 40 })
  })

  const text = (over: Partial<BlockFacts> = {}): BlockFacts =>
    ({ id: 't', kind: 'text', hasText: true, hasImage: false, busy: false, ...over })
  const image = (over: Partial<BlockFacts> = {}): BlockFacts =>
    ({ id: 'i', kind: 'image', hasText: false, hasImage: true, busy: false, ...over })

  it('says why a tool cannot run, and never offers one on an empty block', () => {
    const expand = tool({ name: 'expand', inputs: { kinds: ['text'], min: 1, max: 1, min_text: 1 } })
    expect(whyNot(expand, [text()])).toBeNull()
    expect(whyNot(expand, [text({ hasText: false })])).toBe('Write a prompt first')
    expect(whyNot(expand, [text({ hasText: false, busy: true })])).toBe('Wait for the text to arrive')
    expect(whyNot(expand, [])).toBe('Select a block first')
    const describe = tool({ name: 'describe', inputs: { kinds: ['image'], min: 1, max: 1 } })
    expect(whyNot(describe, [image({ hasImage: false })])).toBe('Add an image first')
    expect(whyNot(describe, [text()])).toBe('Works on image blocks only')
    const combine = tool({ name: 'combine', inputs: { kinds: ['text', 'image'], min: 2, max: 8 } })
    expect(whyNot(combine, [text()])).toBe('Select two or more blocks')
    const variations = tool({ name: 'variations', inputs: { kinds: ['text', 'image'], min: 1, max: 8, min_text: 1 } })
    expect(whyNot(variations, [image()])).toBe('Select a text prompt with it')
    const run = tool({ name: 'run', inputs: { kinds: ['text', 'image'], min: 0, max: 8 } })
    expect(whyNot(run, [image()])).toBe('Write a prompt under the image first')
  })

  it('shows the tools that fit the selection: one text, one image, or several', () => {
    const expand = tool({ inputs: { kinds: ['text'], min: 1, max: 1 } })
    const combine = tool({ inputs: { kinds: ['text', 'image'], min: 2, max: 8 } })
    const describe = tool({ inputs: { kinds: ['image'], min: 1, max: 1 } })
    expect([expand, combine, describe].map((t) => toolFits(t, [text()]))).toEqual([true, false, false])
    expect([expand, combine, describe].map((t) => toolFits(t, [image()]))).toEqual([false, false, true])
    expect([expand, combine, describe].map((t) => toolFits(t, [text(), image()]))).toEqual([false, true, false])
    expect(toolFits(expand, [])).toBe(false)
  })
})
