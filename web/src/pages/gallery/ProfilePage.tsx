import { useCallback, useEffect, useState } from 'react'
import { getProfile, setFollow, type Profile } from '../../api/gallery'
import { ApiError } from '../../api/client'
import { ClaimHandleDialog } from './ClaimHandleDialog'
import { ProfileEditDialog } from './ProfileEditDialog'
import { IdentityBar } from './IdentityBar'
import { PostGrid } from './PostGrid'
import { PersonAvatar } from './PersonAvatar'
import { usePostPages, type PageLoader } from './usePostPages'
import { useDocumentTitle } from './useDocumentTitle'
import { useIdentity } from './useIdentity'
import './gallery.css'

export function ProfilePage({ handle }: { handle: string }) {
  const [identity, setIdentity] = useIdentity()
  const [profile, setProfile] = useState<Profile | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [claiming, setClaiming] = useState(false)
  const [busy, setBusy] = useState(false)
  const [editing, setEditing] = useState(false)
  useDocumentTitle(profile ? `${profile.display_name} (@${profile.handle}) · Arbor` : null)

  useEffect(() => {
    const ctrl = new AbortController()
    getProfile(handle, null, 1, ctrl.signal).then(setProfile, (e: unknown) => {
      if (!ctrl.signal.aborted) setError(e instanceof ApiError && e.status === 404 ? 'Nobody has this handle.' : 'Could not load this profile.')
    })
    return () => ctrl.abort()
  }, [handle, identity?.handle])

  const load: PageLoader = useCallback((cursor, signal) => getProfile(handle, cursor, 24, signal), [handle])
  const pages = usePostPages(load, handle)

  async function toggleFollow(p: Profile) {
    if (!identity) { setClaiming(true); return }
    setBusy(true)
    try {
      const r = await setFollow(p.handle, !p.followed_by_me)
      setProfile({ ...p, followed_by_me: r.following, followers: r.followers })
    } catch (e) {
      setError(e instanceof ApiError ? e.friendly : 'Could not change this.')
    } finally {
      setBusy(false)
    }
  }

  return (
    <main className="page gallery">
      <IdentityBar identity={identity} setIdentity={setIdentity} />
      {error && <p role="alert">{error}</p>}
      {profile && (
        <div className="profile-head">
          <div className="profile-head-top">
            <PersonAvatar url={profile.avatar_url} name={profile.display_name} size={72} />
            <h1>{profile.display_name}</h1>
          </div>
          <p className="muted">@{profile.handle} · <span className="followers">{profile.followers} followers</span> · {profile.following} following</p>
          {profile.bio && <p className="profile-bio">{profile.bio}</p>}
          {profile.is_me && <button onClick={() => setEditing(true)}>Edit profile</button>}
          {!profile.is_me && (
            <button onClick={() => toggleFollow(profile)} disabled={busy} aria-pressed={profile.followed_by_me}>
              {profile.followed_by_me ? 'Following' : 'Follow'}
            </button>
          )}
        </div>
      )}
      {!error && <PostGrid {...pages} empty="No posts yet." />}
      {editing && profile && (
        <ProfileEditDialog name={profile.display_name} bio={profile.bio} avatarUrl={profile.avatar_url}
          onClose={() => setEditing(false)}
          onAvatar={(i) => { setProfile({ ...profile, avatar_url: i.avatar_url }); setIdentity(i) }}
          onDone={(i) => {
            setProfile({ ...profile, display_name: i.display_name, bio: i.bio })
            setIdentity(i)
            setEditing(false)
          }} />
      )}
      {claiming && (
        <ClaimHandleDialog reason="Pick a handle to follow people." onClose={() => setClaiming(false)}
          onDone={(i) => { setIdentity(i); setClaiming(false) }} />
      )}
    </main>
  )
}
