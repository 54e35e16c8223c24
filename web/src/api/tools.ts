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
