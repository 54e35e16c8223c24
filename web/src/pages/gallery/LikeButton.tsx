import { useEffect, useRef, useState } from 'react'
import { likePost, type PostSummary } from '../../api/gallery'
import { ApiError } from '../../api/client'

/** A like given from a post's card: shown at once, taken back if the server refuses it.
 *  Without a handle (`canLike` false) a click asks for one (`onNeedIdentity`) and then
 *  likes; the button's title says so beforehand. */
export function LikeButton({ post, canLike, onNeedIdentity }: {
  post: PostSummary
  canLike: boolean
  onNeedIdentity?: (retry: () => void) => void
}) {
  const [state, setState] = useState({ count: post.like_count, liked: post.liked_by_me })
  const [error, setError] = useState<string | null>(null)
  const current = useRef(state)
  const pending = useRef(false)
  current.current = state

  useEffect(() => {
    setState({ count: post.like_count, liked: post.liked_by_me })
  }, [post.id, post.like_count, post.liked_by_me])

  async function toggle() {
    if (pending.current) return
    pending.current = true
    setError(null)
    const before = current.current
    const want = !before.liked
    setState({ liked: want, count: Math.max(0, before.count + (want ? 1 : -1)) })
    try {
      const r = await likePost(post.id, want)
      setState({ count: r.like_count, liked: r.liked_by_me })
    } catch (e) {
      setState(before)
      setError(e instanceof ApiError ? e.friendly : 'Could not save the like.')
    } finally {
      pending.current = false
    }
  }

  function click() {
    if (canLike) void toggle()
    else onNeedIdentity?.(() => { void toggle() })
  }

  const what = state.liked ? 'Unlike' : 'Like'
  return (
    <>
      <button type="button" className={`like-button${state.liked ? ' liked' : ''}`} onClick={click}
        aria-pressed={state.liked} aria-label={`${what} “${post.title}” · ${state.count} ${state.count === 1 ? 'like' : 'likes'}`}
        title={canLike ? what : 'Pick a handle to like posts (no password needed)'}>
        <span aria-hidden="true">♥</span> <span className="like-count">{state.count}</span>
      </button>
      {error && <span role="alert" className="error small">{error}</span>}
    </>
  )
}
