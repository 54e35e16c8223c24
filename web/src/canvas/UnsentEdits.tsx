// The question asked when this browser kept edits of the canvas from before its links were
// rotated (sync/cacheCheck.ts): add them to the canvas, discard them, or open them as a
// copy in a new canvas. Until the person answers, the canvas shows only the server's state.
import { useEffect, useRef, useState } from 'react'
import type * as Y from 'yjs'
import { navigate } from '../App'
import { useArbor } from '../hooks/useArbor'
import { useConnectionState } from '../hooks/useConnectionState'
import { useCanvasTitle } from '../hooks/useCanvasTitle'
import { createRoom } from '../api/rooms'
import { ApiError } from '../api/client'
import { rememberCanvas } from '../lib/recent'
import { browserStorage } from '../sync/stash'
import { discardKept, keepAsCopy, loadKept, setCacheToken, unsent, type Unsent } from '../sync/cacheCheck'

type Phase = { at: 'checking' } | { at: 'asking'; kept: Y.Doc; what: Unsent } | { at: 'working' } | { at: 'done' }

function describe(u: Unsent): string {
  const blocks = u.blocks === 1 ? '1 block' : `${u.blocks} blocks`
  if (u.blocks && u.meta) return `${blocks} and the canvas’s prompts or title`
  return u.blocks ? blocks : 'the canvas’s prompts or title'
}

export function UnsentEdits() {
  const { conn, room, token, notify } = useArbor()
  const { synced } = useConnectionState()
  const title = useCanvasTitle()
  const [phase, setPhase] = useState<Phase>({ at: 'checking' })
  const first = useRef<HTMLButtonElement>(null)

  // Once the server's state is here, see what the kept copy would add to it.
  useEffect(() => {
    if (!synced || phase.at !== 'checking') return
    let live = true
    void loadKept(room, browserStorage()).then((kept) => {
      if (!live) return
      const what = unsent(kept, conn.doc)
      if (what) setPhase({ at: 'asking', kept, what })
      else { conn.attachCache(); setPhase({ at: 'done' }) }
    })
    return () => { live = false }
  }, [synced, phase.at, room, conn])
  useEffect(() => { if (phase.at === 'asking') first.current?.focus() }, [phase.at])

  if (phase.at !== 'asking' && phase.at !== 'working') return null
  const storage = browserStorage()
  const finish = async (how: 'apply' | 'discard' | 'copy') => {
    const kept = phase.at === 'asking' ? phase.kept : null
    setPhase({ at: 'working' })
    let target: string | null = null
    try {
      if (how === 'copy' && kept) {
        const copy = await createRoom(`Copy of ${title}`)
        target = `/r/${copy.room}`
        await keepAsCopy(kept, copy.room)
        rememberCanvas({ room: copy.room, title: `Copy of ${title}`, token: copy.edit_token, role: 'edit',
          editToken: copy.edit_token, viewToken: copy.view_token, lastOpened: Date.now() })
        setCacheToken(storage, copy.room, copy.edit_token)
      }
      if (how !== 'apply') await discardKept(room, storage)
      conn.attachCache()
      setCacheToken(storage, room, token)
      setPhase({ at: 'done' })
      if (target) navigate(target)
    } catch (e) {
      notify(`That did not work: ${e instanceof ApiError ? e.friendly : 'try again'}.`, 'error')
      setPhase(kept ? { at: 'asking', kept, what: unsent(kept, conn.doc) ?? { blocks: 0, meta: false } } : { at: 'done' })
    }
  }
  return (
    <div className="modal-backdrop">
      <div className="modal wide" role="alertdialog" aria-modal="true" aria-labelledby="unsent-h" aria-describedby="unsent-d">
        <h2 id="unsent-h">Changes kept in this browser</h2>
        <p id="unsent-d">
          This browser kept changes to “{title}” that were never sent ({phase.at === 'asking' ? describe(phase.what) : '…'}).
          The canvas’s links have been changed since, so they are not added unless you say so.
        </p>
        <div className="row unsent-actions" style={{ flexWrap: 'wrap', marginTop: 8 }}>
          <button ref={first} className="primary" disabled={phase.at === 'working'} onClick={() => void finish('apply')}>Add them to the canvas</button>
          <button disabled={phase.at === 'working'} onClick={() => void finish('copy')}>Open them as a copy</button>
          <button className="danger" disabled={phase.at === 'working'} onClick={() => void finish('discard')}>Discard them</button>
        </div>
      </div>
    </div>
  )
}
