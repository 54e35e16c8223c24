// The canvas document's names: a mirror of sync/doc_schema.py (the contract between the
// web app, the server and the workers). tests/unit/test_schema_mirror.py checks that the
// lists below equal the Python ones; change both sides together.

export const SCHEMA_VERSION = 1
export const PROTOCOL_VERSION = 1

export const BLOCKS = 'blocks'
export const EDGES = 'edges'
export const META = 'meta'
export const ROOT_KEYS = ['blocks', 'edges', 'meta'] as const

export const BLOCK_FIELDS = [
  'kind', 'x', 'y', 'w', 'h', 'text', 'image', 'status', 'jobId', 'tool', 'error',
  'progress', 'author', 'createdAt', 'model',
] as const
export const BLOCK_KINDS = ['text', 'image'] as const
// A new text block's size (a new canvas's first prompt block, made by the server, too).
export const TEXT_W = 260
export const TEXT_H = 150
export const IMAGE_FIELDS = ['key', 'width', 'height', 'mime', 'thumbKey'] as const
export const STATUSES = ['idle', 'queued', 'running', 'done', 'error', 'cancelled'] as const

export const EDGE_FIELDS = ['source', 'target', 'tool'] as const

export const META_FIELDS = ['title', 'createdAt', 'schemaVersion', 'prompts'] as const
// The Yjs client that creates meta.prompts (see prompts.ts).
export const PROMPTS_CLIENT_ID = 1

export const AWARENESS_FIELDS = ['user', 'cursor', 'viewport', 'selection', 'following', 'spotlight', 'restored'] as const
export const SERVER_AWARENESS_FIELD = 'arbor'

export type BlockKind = (typeof BLOCK_KINDS)[number]
export type Status = (typeof STATUSES)[number]

export interface ImageRef {
  key: string
  width: number
  height: number
  mime: string
  thumbKey?: string
}

export const DEFAULT_SIZE: Record<BlockKind, { w: number; h: number }> = {
  text: { w: TEXT_W, h: TEXT_H },
  image: { w: 260, h: 280 },
}

export function isBlockKind(v: unknown): v is BlockKind {
  return typeof v === 'string' && (BLOCK_KINDS as readonly string[]).includes(v)
}

export function isStatus(v: unknown): v is Status {
  return typeof v === 'string' && (STATUSES as readonly string[]).includes(v)
}
