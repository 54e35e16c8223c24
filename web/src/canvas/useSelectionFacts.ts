// What the toolbar and menus need to know about the selected blocks, live: kind, whether
// each holds a prompt or an image, and how it was made (for "Run again").
import { useEffect, useState } from 'react'
import * as Y from 'yjs'
import { useArbor } from '../hooks/useArbor'
import type { Connection } from '../sync/connection'
import type { BlockFacts } from '../api/tools'
import { isBlockKind, type Status } from '../sync/schema'

export interface SelectedBlock extends BlockFacts {
  status: Status | string
  /** The tool and job that made this block, if one did. */
  tool: string | null
  jobId: string | null
  /** The model chosen in the block's picker. */
  model: string | null
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)

export function readFacts(conn: Connection, id: string): SelectedBlock | null {
  const b = conn.blocks.get(id)
  if (!(b instanceof Y.Map)) return null
  const kind = isBlockKind(b.get('kind')) ? (b.get('kind') as 'text' | 'image') : 'text'
  const text = b.get('text')
  const image = b.get('image')
  const img = image instanceof Y.Map ? image.toJSON() : image
  const status = str(b.get('status')) ?? 'idle'
  return {
    id, kind,
    hasText: (text instanceof Y.Text ? text.toString() : str(text) ?? '').trim() !== '',
    hasImage: !!img && typeof img === 'object' && typeof (img as { key?: unknown }).key === 'string',
    busy: status === 'queued' || status === 'running',
    status, tool: str(b.get('tool')), jobId: str(b.get('jobId')), model: str(b.get('model')),
  }
}

const same = (a: SelectedBlock[], b: SelectedBlock[]) => a.length === b.length &&
  a.every((x, i) => (Object.keys(x) as (keyof SelectedBlock)[]).every((k) => x[k] === b[i][k]))

/** The facts of these blocks (in this order), kept current while they change. */
export function useSelectionFacts(ids: readonly string[]): SelectedBlock[] {
  const { conn } = useArbor()
  const key = ids.join(' ')
  const read = () => ids.map((id) => readFacts(conn, id)).filter((f): f is SelectedBlock => f != null)
  const [facts, setFacts] = useState<SelectedBlock[]>(read)
  useEffect(() => {
    const list = key ? key.split(' ') : []
    const update = () => setFacts((prev) => {
      const next = list.map((id) => readFacts(conn, id)).filter((f): f is SelectedBlock => f != null)
      return same(prev, next) ? prev : next
    })
    const watched = list.map((id) => conn.blocks.get(id)).filter((b): b is Y.Map<unknown> => b instanceof Y.Map)
    for (const b of watched) b.observeDeep(update)
    conn.blocks.observe(update)
    update()
    return () => {
      for (const b of watched) b.unobserveDeep(update)
      conn.blocks.unobserve(update)
    }
  }, [conn, key])
  return facts
}
