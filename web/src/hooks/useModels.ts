import { useEffect, useState } from 'react'
import { useArbor } from './useArbor'
import { listModels, type ModelList } from '../api/models'

// One list per canvas, shared by every block's picker; `refreshModels` after a key changes.
const cache = new Map<string, Promise<ModelList>>()
const listeners = new Set<() => void>()

function load(room: string, token: string): Promise<ModelList> {
  let p = cache.get(room)
  if (!p) {
    p = listModels(room, token)
    p.catch(() => cache.delete(room))
    cache.set(room, p)
  }
  return p
}

export function refreshModels(room: string): void {
  cache.delete(room)
  for (const l of listeners) l()
}

const EMPTY: ModelList = { models: [], kinds: { text: [], image: [], vision: [] }, defaults: {} }

/** The models on offer to this canvas (empty until loaded or if they cannot be). */
export function useModels(): ModelList {
  const { room, token } = useArbor()
  const [list, setList] = useState<ModelList>(EMPTY)
  const [tick, setTick] = useState(0)
  useEffect(() => {
    const l = () => setTick((t) => t + 1)
    listeners.add(l)
    return () => { listeners.delete(l) }
  }, [])
  useEffect(() => {
    let live = true
    load(room, token).then((r) => { if (live) setList(r) }, () => { /* pickers stay empty */ })
    return () => { live = false }
  }, [room, token, tick])
  return list
}
