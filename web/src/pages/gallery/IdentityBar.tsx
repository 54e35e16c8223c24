import { useState } from 'react'
import type { Identity } from '../../api/gallery'
import { ClaimHandleDialog } from './ClaimHandleDialog'
import { GalleryLink } from './GalleryLink'

/** The gallery's header: where you are, and who you are (or a way to pick a handle). */
export function IdentityBar({ identity, setIdentity }: {
  identity: Identity | null | undefined
  setIdentity: (i: Identity) => void
}) {
  const [claiming, setClaiming] = useState(false)
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
      {claiming && (
        <ClaimHandleDialog onClose={() => setClaiming(false)}
          onDone={(i) => { setIdentity(i); setClaiming(false) }} />
      )}
    </header>
  )
}
