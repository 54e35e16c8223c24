import { useState, type ChangeEvent } from 'react'
import { AVATAR_TYPES, removeAvatar, setAvatar } from '../../api/avatar'
import type { Identity } from '../../api/gallery'
import { ApiError } from '../../api/client'
import { PersonAvatar } from './PersonAvatar'

/** Choose (or remove) your avatar: it is sent as soon as it is picked, and the server's
 *  answer (its new URL, or why the file was refused) is shown here. */
export function AvatarField({ url, name, onChange }: {
  url: string | null
  name: string
  onChange: (identity: Identity) => void
}) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  async function run(action: () => Promise<Identity>) {
    setBusy(true)
    setError(null)
    try {
      onChange(await action())
    } catch (err) {
      setError(err instanceof ApiError ? err.friendly : 'Could not change your avatar.')
    } finally {
      setBusy(false)
    }
  }

  function picked(e: ChangeEvent<HTMLInputElement>) {
    const file = e.target.files?.[0]
    e.target.value = ''
    if (file) void run(() => setAvatar(file))
  }

  return (
    <div className="stack">
      <label htmlFor="profile-avatar">Avatar</label>
      <div className="avatar-field">
        <PersonAvatar url={url} name={name} size={56} />
        <input id="profile-avatar" type="file" accept={AVATAR_TYPES.join(',')} disabled={busy}
          onChange={picked} aria-describedby="profile-avatar-help" />
        {url && <button type="button" onClick={() => void run(removeAvatar)} disabled={busy}>Remove</button>}
      </div>
      <span id="profile-avatar-help" className="small muted">
        {busy ? 'Uploading…' : 'PNG, JPEG, WebP, GIF or AVIF; shown as a square.'}
      </span>
      {error && <p role="alert" className="error">{error}</p>}
    </div>
  )
}
