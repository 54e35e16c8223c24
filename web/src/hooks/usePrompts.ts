import { useEffect, useState } from 'react'
import * as Y from 'yjs'
import { useArbor } from './useArbor'

/** The room's own prompt templates (meta.prompts: tool name → template), live. */
export function usePrompts(): Record<string, string> {
  const { conn } = useArbor()
  const read = (): Record<string, string> => {
    const m = conn.meta.get('prompts')
    const out: Record<string, string> = {}
    if (m instanceof Y.Map) {
      m.forEach((v, k) => { if (typeof v === 'string' || v instanceof Y.Text) out[k] = v.toString() })
    }
    return out
  }
  const [prompts, setPrompts] = useState(read)
  useEffect(() => {
    const update = () => setPrompts(read())
    update()
    conn.meta.observeDeep(update)
    return () => conn.meta.unobserveDeep(update)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [conn])
  return prompts
}
