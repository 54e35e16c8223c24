import { useCallback, useEffect, useMemo, useState } from 'react'
import { ReactFlowProvider } from '@xyflow/react'
import '@xyflow/react/dist/style.css'
import { navigate } from '../App'
import { getRoom, type Role } from '../api/rooms'
import { ApiError } from '../api/client'
import { Connection } from '../sync/connection'
import { ArborContext, type ArborContextValue } from '../sync/ArborContext'
import { getRecent, rememberCanvas } from '../lib/recent'
import { tokenFromHash, wsBase } from '../lib/links'
import { loadOrCreateIdentity, saveIdentity, type Identity } from '../lib/identity'
import { CanvasView } from '../canvas/CanvasView'
import { preloadTextEditor } from '../nodes/LazyTextEditor'
import { Toasts, useToasts } from '../canvas/Toasts'
import { UnsentEdits } from '../canvas/UnsentEdits'
import { mustAsk } from '../sync/cacheCheck'
import { browserStorage } from '../sync/stash'

// `hold`: this browser keeps edits of the canvas from before its links were rotated; they
// wait until the person decides (UnsentEdits).
type Access = { state: 'loading' } | { state: 'ok'; role: Role; hold: boolean } | { state: 'error'; message: string }

function initialToken(room: string): string | null {
  const t = tokenFromHash(window.location.hash)
  if (t) return t
  const r = getRecent(room)
  if (r?.token) {
    window.history.replaceState(null, '', `/r/${room}#token=${r.token}`)
    return r.token
  }
  return null
}

export function CanvasPage({ room }: { room: string }) {
  const [token, setToken] = useState<string | null>(() => initialToken(room))
  const [access, setAccess] = useState<Access>({ state: 'loading' })
  const [identity, setIdentityState] = useState<Identity>(loadOrCreateIdentity)
  const [conn, setConn] = useState<Connection | null>(null)
  const { toasts, notify, dismiss } = useToasts()

  const setIdentity = useCallback((i: Identity) => {
    saveIdentity(i)
    setIdentityState(i)
  }, [])

  // A link pasted into the address bar of this tab: follow it.
  useEffect(() => {
    const onHash = () => {
      const t = tokenFromHash(window.location.hash)
      if (t && t !== conn?.token) window.location.reload()
    }
    window.addEventListener('hashchange', onHash)
    return () => window.removeEventListener('hashchange', onHash)
  }, [conn])

  // Which role this link grants (the fragment token goes in a header, never the URL).
  useEffect(() => {
    if (!token) return
    const ac = new AbortController()
    getRoom(room, token, ac.signal).then(
      (info) => {
        const prev = getRecent(room)
        const hold = info.role === 'edit' && mustAsk(browserStorage(), room, token, prev?.editToken)
        setAccess({ state: 'ok', role: info.role, hold })
        rememberCanvas({
          room, token, role: info.role, lastOpened: Date.now(),
          ...(info.role === 'edit' ? { editToken: token } : { viewToken: token }),
          ...(prev && prev.editToken && prev.editToken !== token && info.role === 'edit' ? { viewToken: undefined } : {}),
        })
      },
      (e: unknown) => {
        if (ac.signal.aborted) return
        if (e instanceof ApiError && e.status === 0) {
          // Offline: open from this browser's cache with the role we knew.
          const prev = getRecent(room)
          if (prev) {
            const hold = prev.role === 'edit' && mustAsk(browserStorage(), room, token, prev.editToken)
            setAccess({ state: 'ok', role: prev.role, hold })
            return
          }
        }
        const msg = e instanceof ApiError
          ? e.status === 404 ? 'There is no such canvas. Check the link.'
            : e.status === 401 || e.status === 403 ? 'This link is not valid for this canvas (it may have been rotated). Ask for a new link.'
              : e.friendly
          : 'The canvas could not be opened.'
        setAccess({ state: 'error', message: msg })
      },
    )
    return () => ac.abort()
  }, [room, token])

  // The live connection, once the role is known.
  const connected = access.state === 'ok'
  const role = access.state === 'ok' ? access.role : null
  const hold = access.state === 'ok' && access.hold
  useEffect(() => {
    if (!connected || !token) return
    const c = new Connection(room, token, wsBase(window.location), { readOnly: role !== 'edit', holdCache: hold })
    setConn(c)
    if (role === 'edit') preloadTextEditor() // its own chunk: LazyTextEditor.tsx
    // For the browser tests and the console: the live document of this canvas.
    const w = window as unknown as { arbor?: Connection }
    w.arbor = c
    return () => {
      if (w.arbor === c) delete w.arbor
      c.destroy()
      setConn(null)
    }
    // The token can change while connected (rotation): Connection.updateToken handles that.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [room, connected])

  const changeToken = useCallback((t: string) => {
    setToken(t)
    window.history.replaceState(null, '', `/r/${room}#token=${t}`)
    conn?.updateToken(t)
  }, [conn, room])

  const value = useMemo<(ArborContextValue & { changeToken: (t: string) => void }) | null>(() => {
    if (!conn || access.state !== 'ok' || !token) return null
    return { conn, room, token, role: access.role, readOnly: access.role !== 'edit', identity, setIdentity, notify, changeToken }
  }, [conn, access, identity, token, room, setIdentity, notify, changeToken])

  if (!token) {
    return (
      <main className="page narrow">
        <h1>This link has no access token</h1>
        <p>A canvas link looks like <code>/r/ROOM#token=…</code>. Ask the person who shared it for the full link.</p>
        <p><a href="/" onClick={(e) => { e.preventDefault(); navigate('/') }}>Back to your canvases</a></p>
      </main>
    )
  }
  if (access.state === 'error') {
    return (
      <main className="page narrow">
        <h1>Cannot open this canvas</h1>
        <p role="alert">{access.message}</p>
        <p><a href="/" onClick={(e) => { e.preventDefault(); navigate('/') }}>Back to your canvases</a></p>
      </main>
    )
  }
  if (!value) return <main className="page narrow"><p className="muted" role="status">Opening the canvas…</p></main>
  return (
    <ArborContext.Provider value={value}>
      <ReactFlowProvider>
        <CanvasView onTokenChange={changeToken} />
      </ReactFlowProvider>
      <Toasts toasts={toasts} onDismiss={dismiss} />
      {conn?.holdingCache && <UnsentEdits />}
    </ArborContext.Provider>
  )
}
