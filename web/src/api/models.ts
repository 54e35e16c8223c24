// Models, estimates, spend and a canvas's own API keys (server/api/models.py).
import { api } from './client'
import type { Tool } from './tools'

export type ModelKind = 'text' | 'image' | 'vision'

export interface Price { input_per_mtok: number; output_per_mtok: number; per_image: number }

export interface ModelInfo {
  id: string
  label: string
  provider: string
  kinds: ModelKind[]
  offline: boolean
  price: Price
}

export interface ModelList {
  models: ModelInfo[]
  kinds: Record<ModelKind, string[]>
  /** The model each tool uses when a run names none. */
  defaults: Record<string, string>
}

const roomPath = (room: string) => `/api/rooms/${encodeURIComponent(room)}`

/** The models on offer to this canvas (its own keys included). */
export const listModels = (room: string, token: string, signal?: AbortSignal) =>
  api<ModelList>(`/api/models?room=${encodeURIComponent(room)}`, { token, signal })

export interface Estimate {
  model: string | null
  units: { input_tokens: number; output_tokens: number; images: number }
  cost_usd: number
  /** "4 images with OpenAI gpt-image-2, about $0.16" */
  text: string
}

export const estimateRun = (room: string, token: string,
  req: { tool: string; inputs: string[]; params: Record<string, unknown> }, signal?: AbortSignal) =>
  api<Estimate>(`${roomPath(room)}/estimate`, { method: 'POST', token, body: req, signal })

export interface Spend { jobs: number; cost_usd: number; input_tokens: number; output_tokens: number; images: number }
export interface SpendGroup { today: Spend; total: Spend; person?: string; tool?: string; model?: string }
export interface Usage {
  today: Spend
  total: Spend
  by_person: SpendGroup[]
  by_tool: SpendGroup[]
  by_model: SpendGroup[]
  /** Today's budgets of this canvas that have a limit. */
  budget: Partial<Record<'tokens' | 'images' | 'usd', { limit: number; used: number }>>
}

export const getUsage = (room: string, token: string, signal?: AbortSignal) =>
  api<Usage>(`${roomPath(room)}/usage`, { token, signal })

export type KeyProvider = 'openai' | 'gemini'
export interface KeyState { set: boolean; last4: string | null; base_url: string }
export type Keys = Record<KeyProvider, KeyState>

export const getKeys = (room: string, token: string, signal?: AbortSignal) =>
  api<Keys>(`${roomPath(room)}/keys`, { token, signal })

export const putKey = (room: string, token: string, provider: KeyProvider, apiKey: string, baseUrl?: string) =>
  api<Keys>(`${roomPath(room)}/keys/${provider}`, {
    method: 'PUT', token, body: baseUrl ? { api_key: apiKey, base_url: baseUrl } : { api_key: apiKey },
  })

export const deleteKey = (room: string, token: string, provider: KeyProvider) =>
  api<void>(`${roomPath(room)}/keys/${provider}`, { method: 'DELETE', token })

/** The kind of model a tool needs: image tools make images, the rest write text. */
export function neededKind(tool: Pick<Tool, 'output'>): 'text' | 'image' {
  const o = tool.output
  const k = typeof o === 'string' ? o : o?.kind
  return k === 'image' ? 'image' : 'text'
}

/** Whether `model` can run `tool` (with image inputs, a text tool needs vision). */
export function canRun(model: Pick<ModelInfo, 'kinds'>, tool: Pick<Tool, 'output'>, withImages = false): boolean {
  const kind = neededKind(tool)
  if (!model.kinds.includes(kind)) return false
  return !(withImages && kind === 'text' && !model.kinds.includes('vision'))
}

/** The models a block's picker offers: those that can run a tool from a block of this kind. */
export function modelsForBlock(models: readonly ModelInfo[], kind: 'text' | 'image'): ModelInfo[] {
  return models.filter((m) => m.kinds.includes('image') || (kind === 'text' ? m.kinds.includes('text') : m.kinds.includes('vision')))
}

/** The model a run uses: the first input block's chosen model if it can do the tool, else
 * none (the server's default for the tool). */
export function modelForRun(chosen: readonly (string | null | undefined)[], models: readonly ModelInfo[],
  tool: Pick<Tool, 'output'>, withImages: boolean): string | undefined {
  for (const id of chosen) {
    const m = id ? models.find((x) => x.id === id) : undefined
    if (m && canRun(m, tool, withImages)) return m.id
  }
  return undefined
}

export const formatUsd = (n: number): string =>
  n <= 0 ? '$0' : n < 0.01 ? '<$0.01' : `$${n.toFixed(2)}`
