import { useEffect, useState } from 'react'
import { getProfile, setFollow, type Identity } from '../../api/gallery'
import { ApiError } from '../../api/client'

/** Follow (or stop following) a post's author from the post page. Without a handle a
 *  click asks for one first (`onNeedIdentity`), then follows. */
export function FollowButton({ handle, identity, onNeedIdentity }: {
  handle: string
  identity: Identity | null | undefined
  onNeedIdentity: (retry: () => void) => void
}) {
  const [following, setFollowing] = useState<boolean | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    const ctrl = new AbortController()
    getProfile(handle, null, 1, ctrl.signal).then((p) => setFollowing(p.followed_by_me), () => {
      if (!ctrl.signal.aborted) setFollowing(false)
    })
    return () => ctrl.abort()
  }, [handle, identity?.handle])

  async function change(to: boolean) {
    setBusy(true)
    setError(null)
    try {
      setFollowing((await setFollow(handle, to)).following)
    } catch (e) {
      setError(e instanceof ApiError ? e.friendly : 'Could not change this.')
    } finally {
      setBusy(false)
    }
  }

  // Drawn at once (disabled until the state is known), so nothing below it moves.
  return (
    <>
      <button type="button" className="follow-button" aria-pressed={!!following} disabled={busy || following === null}
        onClick={() => identity ? void change(!following) : onNeedIdentity(() => { void change(true) })}>
        {following ? 'Following' : `Follow @${handle}`}
      </button>
      {error && <span role="alert" className="error small">{error}</span>}
    </>
  )
}
