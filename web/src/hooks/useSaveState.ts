import { useEffect, useState } from 'react'
import * as Y from 'yjs'
import { useArbor } from './useArbor'
import { isSavedBase64, readServerPresence } from '../sync/saved'

export type SaveState = 'saved' | 'saving' | 'unknown'

/** Whether everything in this browser's document is stored by the server. */
export function useSaveState(): SaveState {
  const { conn } = useArbor()
  const [state, setState] = useState<SaveState>('unknown')
  useEffect(() => {
    const awareness = conn.provider.awareness
    let timer = 0
    // The last state the server reported stored: still the truth once the connection is
    // gone (its presence leaves with it), so offline edits show as kept here, not saved.
    let lastSaved: string | null = null
    const check = () => {
      timer = 0
      let saved: string | null = null
      awareness.getStates().forEach((s) => {
        const p = readServerPresence(s)
        if (p) saved = p.saved
      })
      if (saved != null) lastSaved = saved
      else saved = lastSaved
      if (saved == null) {
        setState('unknown')
        return
      }
      setState(isSavedBase64(Y.encodeStateVector(conn.doc), saved) ? 'saved' : 'saving')
    }
    const schedule = () => {
      if (!timer) timer = window.setTimeout(check, 150)
    }
    check()
    awareness.on('change', schedule)
    conn.doc.on('update', schedule)
    return () => {
      awareness.off('change', schedule)
      conn.doc.off('update', schedule)
      if (timer) clearTimeout(timer)
    }
  }, [conn])
  return state
}
