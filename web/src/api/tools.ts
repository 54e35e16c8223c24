import { api, ApiError } from './client'
import type { BlockKind } from '../sync/schema'

export interface ToolParam {
  name: string
  label?: string
  description?: string
  type?: string
  default?: unknown
  choices?: unknown[]
  min?: number
  max?: number
}

export interface Tool {
  name: string
  label: string
  description?: string
  /** min_text: how many of the inputs must be text blocks. */
  inputs: { kinds: BlockKind[]; min: number; max: number; min_text?: number }
  output: BlockKind | { kind: BlockKind; count?: number } | string
  /** How many output blocks one run makes. */
  outputs?: number
  params: ToolParam[]
  template?: string
}

/** The tools, or [] while the server offers none (404). */
export async function listTools(signal?: AbortSignal): Promise<Tool[]> {
  try {
    const r = await api<{ tools?: Tool[] }>('/api/tools', { signal })
    return Array.isArray(r.tools) ? r.tools : []
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return []
    throw e
  }
}

export function outputKind(tool: Tool): BlockKind {
  const o = tool.output
  const k = typeof o === 'string' ? o : o?.kind
  return k === 'image' ? 'image' : 'text'
}

export function outputCount(tool: Tool): number {
  const o = tool.output
  const n = typeof tool.outputs === 'number' ? tool.outputs
    : typeof o === 'object' && o && typeof o.count === 'number' ? o.count : 1
  return Math.min(8, Math.max(1, Math.floor(n)))
}

/** Whether a tool accepts this selection of block kinds. */
export function toolAccepts(tool: Tool, kinds: readonly BlockKind[]): boolean {
  const { min = 0, max = Infinity } = tool.inputs ?? {}
  if (kinds.length < min || kinds.length > max) return false
  if (kinds.filter((k) => k === 'text').length < (tool.inputs?.min_text ?? 0)) return false
  const allowed = tool.inputs?.kinds
  return !allowed || allowed.length === 0 || kinds.every((k) => allowed.includes(k))
}

// ---- one list per page: every badge, toolbar and menu reads the same request --------------
let loaded: Promise<Tool[]> | null = null
let known: Tool[] = []

/** The tools, fetched once per page (again after a failure). */
export function loadTools(): Promise<Tool[]> {
  if (!loaded) {
    loaded = listTools().then((t) => { known = t; return t })
    loaded.catch(() => { loaded = null })
  }
  return loaded
}

/** The tools already fetched ([] before the first answer). */
export const cachedTools = (): Tool[] => known

/** A tool's name in words: the catalogue's label, else the id made readable
 * ("generate_image" → "Generate image"). */
export function toolLabel(name: string, tools: readonly Tool[] = []): string {
  const t = tools.find((x) => x.name === name)
  if (t?.label) return t.label
  const words = name.replace(/[_-]+/g, ' ').trim()
  return words ? words[0].toUpperCase() + words.slice(1) : name
}

/** Only the parameters the tool takes (the server refuses any other, e.g. `model` for Split). */
export function paramsFor(tool: Pick<Tool, 'params'>, values: Record<string, unknown>): Record<string, unknown> {
  const names = new Set((tool.params ?? []).map((p) => p.name))
  return Object.fromEntries(Object.entries(values).filter(([k, v]) => names.has(k) && v !== undefined))
}

export const takesParam = (tool: Pick<Tool, 'params'>, name: string): boolean =>
  (tool.params ?? []).some((p) => p.name === name)

/** What a tool needs to know about each block it would run on. */
export interface BlockFacts {
  id: string
  kind: BlockKind
  /** The block has text (a prompt; for an image, its caption) that is not blank. */
  hasText: boolean
  hasImage: boolean
  /** A tool is still making this block. */
  busy: boolean
}

const COUNT_WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight']
const count = (n: number) => COUNT_WORDS[n] ?? String(n)

/** Whether the tool fits this selection at all (kinds and number): the tools a block's
 * toolbar and menu show. Those that fit may still be unable to run (see `whyNot`). */
export function toolFits(tool: Tool, blocks: readonly Pick<BlockFacts, 'kind'>[]): boolean {
  const { min = 0, max = Infinity, kinds } = tool.inputs ?? {}
  if (blocks.length < Math.max(1, min) || blocks.length > max) return false
  return !kinds?.length || blocks.every((b) => kinds.includes(b.kind))
}

/** Why the tool cannot run on these blocks, in words for a person; null when it can. The
 * server refuses the same runs (server/api/jobs.py), so an empty block never costs a call. */
export function whyNot(tool: Tool, blocks: readonly BlockFacts[]): string | null {
  const { min = 0, max = Infinity, kinds, min_text: minText = 0 } = tool.inputs ?? {}
  if (blocks.length === 0) return 'Select a block first'
  if (blocks.length < min) return `Select ${count(min)} or more blocks`
  if (blocks.length > max) return `Works on at most ${count(max)} blocks`
  if (kinds?.length && !blocks.every((b) => kinds.includes(b.kind))) {
    return kinds.length === 1 ? `Works on ${kinds[0]} blocks only` : 'Cannot use these blocks'
  }
  if (blocks.filter((b) => b.kind === 'text').length < minText) return 'Select a text prompt with it'
  for (const b of blocks) {
    if (b.kind === 'text' && !b.hasText) return b.busy ? 'Wait for the text to arrive' : 'Write a prompt first'
    if (b.kind === 'image' && !b.hasImage) return b.busy ? 'Wait for the image' : 'Add an image first'
  }
  if (tool.name === 'run' && !blocks[0].hasText) return 'Write a prompt under the image first'
  return null
}
