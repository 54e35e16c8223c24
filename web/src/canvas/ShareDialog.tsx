import { useEffect, useRef, useState } from 'react'
import { useArbor } from '../hooks/useArbor'
import { rotateLinks } from '../api/rooms'
import { ApiError } from '../api/client'
import { getRecent, rememberCanvas } from '../lib/recent'
import { roomLink } from '../lib/links'

function CopyField({ label, value, id }: { label: string; value: string; id: string }) {
  const [copied, setCopied] = useState(false)
  const ref = useRef<HTMLInputElement>(null)
  async function copy() {
    try {
      await navigator.clipboard.writeText(value)
    } catch {
      ref.current?.select()
      document.execCommand('copy')
    }
    setCopied(true)
    window.setTimeout(() => setCopied(false), 1500)
  }
  return (
    <div className="copy-field">
      <label htmlFor={id}>{label}</label>
      <div className="row">
        <input id={id} ref={ref} readOnly value={value} onFocus={(e) => e.target.select()} />
        <button onClick={copy} aria-label={`Copy ${label.toLowerCase()}`}>{copied ? 'Copied' : 'Copy'}</button>
      </div>
    </div>
  )
}

export function ShareDialog({ onClose, onTokenChange }: { onClose: () => void; onTokenChange: (t: string) => void }) {
  const { room, token, role, notify } = useArbor()
  const recent = getRecent(room)
  const [links, setLinks] = useState<{ edit?: string; view?: string }>(() => ({
    edit: role === 'edit' ? token : recent?.editToken,
    view: role === 'view' ? token : recent?.viewToken,
  }))
  const [busy, setBusy] = useState(false)
  const [confirming, setConfirming] = useState(false)
  const origin = window.location.origin

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') onClose() }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onClose])

  async function rotate() {
    setBusy(true)
    try {
      const r = await rotateLinks(room, token)
      rememberCanvas({ room, token: r.edit_token, role: 'edit', editToken: r.edit_token, viewToken: r.view_token })
      setLinks({ edit: r.edit_token, view: r.view_token })
      onTokenChange(r.edit_token)
      notify('New links made. The old links no longer work.')
    } catch (e) {
      notify(e instanceof ApiError ? `Could not make new links: ${e.friendly}` : 'Could not make new links.', 'error')
    } finally {
      setBusy(false)
      setConfirming(false)
    }
  }

  return (
    <div className="modal-backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget) onClose() }}>
      <div className="modal wide" role="dialog" aria-modal="true" aria-labelledby="share-h">
        <h2 id="share-h">Share this canvas</h2>
        {links.edit && <CopyField id="edit-link" label="Edit link: anyone with it can change the canvas" value={roomLink(origin, room, links.edit)} />}
        {links.view ? (
          <CopyField id="view-link" label="View link: watch live, no changes" value={roomLink(origin, room, links.view)} />
        ) : role === 'edit' ? (
          <p className="muted">This browser does not know the view link (it was made elsewhere). Make new links to get one.</p>
        ) : null}
        {role === 'edit' && (
          <section className="rotate">
            <h3>Withdraw access</h3>
            <p className="muted">Making new links stops both old links at once, including for people connected now.</p>
            {confirming ? (
              <div className="row">
                <button className="danger" onClick={rotate} disabled={busy}>{busy ? 'Working…' : 'Yes, make new links'}</button>
                <button onClick={() => setConfirming(false)}>Keep the current links</button>
              </div>
            ) : (
              <button onClick={() => setConfirming(true)}>Make new links…</button>
            )}
          </section>
        )}
        <div className="row end">
          <button autoFocus onClick={onClose}>Close</button>
        </div>
      </div>
    </div>
  )
}
