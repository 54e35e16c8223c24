import { useEffect, useState, type FormEvent } from 'react'
import { BIO_MAX, DISPLAY_NAME_MAX, updateProfile, type Identity } from '../../api/gallery'
import { ApiError } from '../../api/client'
import { AvatarField } from './AvatarField'
import { OidcSignIn } from './OidcSignIn'
import './gallery.css'

/** Edit your own display name and bio (at most 280 characters, line breaks kept). */
export function ProfileEditDialog({ name: initialName, bio: initialBio, avatarUrl, onAvatar, onDone, onClose }: {
  name: string
  bio: string
  avatarUrl: string | null
  /** The avatar changed (it is saved at once, whether or not the form is). */
  onAvatar: (identity: Identity) => void
  onDone: (identity: Identity) => void
  onClose: () => void
}) {
  const [name, setName] = useState(initialName)
  const [bio, setBio] = useState(initialBio)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const tooLong = bio.trim().length > BIO_MAX

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') onClose() }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onClose])

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (tooLong) return
    setBusy(true)
    setError(null)
    try {
      onDone(await updateProfile({ display_name: name, bio }))
    } catch (err) {
      setError(err instanceof ApiError ? err.friendly : 'Could not save your profile.')
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="modal-backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget) onClose() }}>
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="profile-edit-title">
        <form onSubmit={submit} className="stack">
          <h2 id="profile-edit-title">Edit your profile</h2>
          <AvatarField url={avatarUrl} name={name || initialName} onChange={onAvatar} />
          <label htmlFor="profile-name">Display name</label>
          <input id="profile-name" autoFocus value={name} maxLength={DISPLAY_NAME_MAX}
            onChange={(e) => setName(e.target.value)} />
          <label htmlFor="profile-bio">Bio</label>
          <textarea id="profile-bio" rows={4} value={bio} onChange={(e) => setBio(e.target.value)}
            aria-describedby="profile-bio-count" />
          <span id="profile-bio-count" className={`small bio-count ${tooLong ? 'error' : 'muted'}`}>
            {bio.trim().length} / {BIO_MAX}
          </span>
          {error && <p role="alert" className="error">{error}</p>}
          <div className="row end">
            <button type="button" onClick={onClose}>Cancel</button>
            <button type="submit" className="primary" disabled={busy || tooLong}>{busy ? 'Saving…' : 'Save'}</button>
          </div>
          <OidcSignIn link />
        </form>
      </div>
    </div>
  )
}
