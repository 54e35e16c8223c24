import { describe, expect, it } from 'vitest'
import { lineDiff, templateFields, templateProblem } from './PromptEditor'
import { canRun, modelForRun, modelsForBlock, type ModelInfo } from '../api/models'

const P = ['context', 'count', 'input', 'inputs', 'text', 'words']

describe('templateProblem mirrors the server rule', () => {
  it('takes known placeholders and literal braces', () => {
    expect(templateProblem('expand', 'About {words} words: {input} {{json}}', P)).toBeNull()
  })
  it('refuses unknown placeholders with the server message', () => {
    expect(templateProblem('expand', '{input} in {colour} and {mood}', P)).toBe(
      'expand: unknown placeholder {colour}, {mood}; use {context}, {count}, {input}, {inputs}, {text}, {words}')
  })
  it('refuses unbalanced braces, format specs and empty templates', () => {
    expect(templateProblem('twist', 'oops {input', P)).toMatch(/never closed/)
    expect(templateProblem('twist', 'oops } here', P)).toMatch(/has no \{/)
    expect(templateProblem('twist', '{input!r}', P)).toMatch(/without '!' or ':'/)
    expect(templateProblem('twist', '  ', P)).toMatch(/empty/)
    expect(templateProblem('twist', 'x'.repeat(8001), P)).toMatch(/longer than 8000/)
  })
  it('parses fields in order', () => {
    expect(templateFields('{a}{{b}}{c}')).toEqual({ fields: ['a', 'c'] })
  })
})

describe('lineDiff', () => {
  it('lists removed and added lines', () => {
    expect(lineDiff('one\ntwo', 'one\nthree')).toEqual({ removed: ['two'], added: ['three'] })
  })
})

const m = (id: string, kinds: ModelInfo['kinds']): ModelInfo => ({
  id, label: id, provider: id.split(':')[0], kinds, offline: id.startsWith('offline'),
  price: { input_per_mtok: 0, output_per_mtok: 0, per_image: 0 },
})
const MODELS = [m('openai:gpt-4.1-mini', ['text', 'vision']), m('openai:gpt-image-2', ['image']),
  m('acme:plain', ['text'])]
const textTool = { output: 'text' }
const imageTool = { output: 'image' }

describe('models for a run', () => {
  it('knows which model can do which tool', () => {
    expect(canRun(MODELS[0], textTool)).toBe(true)
    expect(canRun(MODELS[0], imageTool)).toBe(false)
    expect(canRun(MODELS[2], textTool, true)).toBe(false)
  })
  it('uses the first chosen model that can do the tool, else the default', () => {
    expect(modelForRun(['openai:gpt-image-2', 'openai:gpt-4.1-mini'], MODELS, textTool, false)).toBe('openai:gpt-4.1-mini')
    expect(modelForRun(['openai:gpt-4.1-mini'], MODELS, imageTool, false)).toBeUndefined()
    expect(modelForRun([null, 'gone:model'], MODELS, textTool, false)).toBeUndefined()
  })
  it('offers an image block vision and image models only', () => {
    expect(modelsForBlock(MODELS, 'image').map((x) => x.id)).toEqual(['openai:gpt-4.1-mini', 'openai:gpt-image-2'])
    expect(modelsForBlock(MODELS, 'text')).toHaveLength(3)
  })
})
