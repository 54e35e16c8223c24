import { useEffect, useState, type FormEvent } from 'react'
import { claimHandle, HANDLE_PATTERN, type Identity } from '../../api/gallery'
import { ApiError } from '../../api/client'
import { OidcSignIn } from './OidcSignIn'
import './gallery.css'

/** Pick a handle: no password; the browser keeps a secret and shows a recovery link. */
export function ClaimHandleDialog({ onDone, onClose, reason }: {
  onDone: (identity: Identity) => void
  onClose: () => void
  reason?: string
}) {
  const [handle, setHandle] = useState('')
  const [name, setName] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [claimed, setClaimed] = useState<Identity | null>(null)
  const normal = handle.trim().toLowerCase()
  const valid = HANDLE_PATTERN.test(normal)

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') onClose() }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onClose])

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (!valid) return
    setBusy(true)
    setError(null)
    try {
      setClaimed(await claimHandle(normal, name.trim() || undefined))
    } catch (err) {
      setError(err instanceof ApiError ? err.friendly : 'Could not claim this handle.')
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="modal-backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget) onClose() }}>
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="claim-title">
        {claimed ? (
          <>
            <h2 id="claim-title">You are @{claimed.handle}</h2>
            <p>This browser now remembers you. To use the same handle on another device, open this
              recovery link there. Keep it private: whoever has it can act as you.</p>
            <input readOnly value={claimed.recovery_url} aria-label="Recovery link" onFocus={(e) => e.target.select()} />
            <div className="row end">
              <button className="primary" onClick={() => onDone(claimed)}>Continue</button>
            </div>
          </>
        ) : (
          <form onSubmit={submit} className="stack">
            <h2 id="claim-title">Pick a handle</h2>
            {reason && <p className="muted">{reason}</p>}
            <label htmlFor="claim-handle">Handle</label>
            <input id="claim-handle" autoFocus value={handle} maxLength={30} autoComplete="off"
              onChange={(e) => setHandle(e.target.value)} placeholder="fox_fan" />
            <p className="muted small">3 to 30 characters: a–z, 0–9 and _.</p>
            <label htmlFor="claim-name">Display name (optional)</label>
            <input id="claim-name" value={name} maxLength={50} onChange={(e) => setName(e.target.value)} />
            {error && <p role="alert" className="error">{error}</p>}
            <div className="row end">
              <button type="button" onClick={onClose}>Cancel</button>
              <button type="submit" className="primary" disabled={!valid || busy}>{busy ? 'Claiming…' : 'Claim handle'}</button>
            </div>
            <OidcSignIn />
          </form>
        )}
      </div>
    </div>
  )
}
