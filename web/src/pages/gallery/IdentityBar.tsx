import { useState } from 'react'
import type { Identity } from '../../api/gallery'
import { ClaimHandleDialog } from './ClaimHandleDialog'
import { GalleryLink } from './GalleryLink'

/** The gallery's header: where you are, and who you are (or a way to pick a handle). */
export function IdentityBar({ identity, setIdentity }: {
  identity: Identity | null | undefined
  setIdentity: (i: Identity) => void
}) {
  // Back from signing in with an account that has no handle yet (/gallery?claim=1): ask
  // for one now; claiming it links that account.
  const [claiming, setClaiming] = useState(() => new URLSearchParams(window.location.search).get('claim') === '1')
  return (
    <header className="gallery-head">
      <nav className="row">
        <GalleryLink to="/" className="muted">Your canvases</GalleryLink>
        <GalleryLink to="/gallery"><strong>Gallery</strong></GalleryLink>
      </nav>
      <div className="row">
        {identity ? (
          <GalleryLink to={`/u/${encodeURIComponent(identity.handle)}`}>@{identity.handle}</GalleryLink>
        ) : identity === null ? (
          <button onClick={() => setClaiming(true)}>Pick a handle</button>
        ) : null}
      </div>
      {claiming && !identity && (
        <ClaimHandleDialog onClose={() => setClaiming(false)}
          onDone={(i) => { setIdentity(i); setClaiming(false) }} />
      )}
    </header>
  )
}
