import { useEffect, useState } from 'react'
import { recoverIdentity, secretFromHash, type Identity } from '../../api/gallery'
import { ApiError } from '../../api/client'
import { GalleryLink } from './GalleryLink'
import './gallery.css'

/** `/recover#secret=...`: use a handle claimed on another device in this browser. */
export function RecoverPage() {
  const [secret] = useState(() => secretFromHash(window.location.hash))
  const [identity, setIdentity] = useState<Identity | null>(null)
  const [error, setError] = useState<string | null>(secret ? null : 'This recovery link is incomplete.')
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    // Keep the secret out of the address bar (and of anything that copies it) once read.
    if (secret) window.history.replaceState(null, '', '/recover')
  }, [secret])

  async function recover() {
    if (!secret) return
    setBusy(true)
    try {
      setIdentity(await recoverIdentity(secret))
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401 ? 'This recovery link is not valid.' : e instanceof ApiError ? e.friendly : 'Could not recover.')
    } finally {
      setBusy(false)
    }
  }

  return (
    <main className="page narrow">
      <h1>Use your handle here</h1>
      {identity ? (
        <p>This browser is now @{identity.handle}. <GalleryLink to="/gallery">Go to the gallery</GalleryLink></p>
      ) : error ? (
        <p role="alert">{error}</p>
      ) : (
        <>
          <p>Sign this browser in with the handle of your recovery link.</p>
          <button className="primary" onClick={recover} disabled={busy}>{busy ? 'Signing in…' : 'Use my handle'}</button>
        </>
      )}
    </main>
  )
}
