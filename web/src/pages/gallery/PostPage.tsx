import { useEffect, useRef, useState } from 'react'
import { deletePost, getPost, likePost, remixPost, reportPost, type Post } from '../../api/gallery'
import { ApiError } from '../../api/client'
import { rememberCanvas } from '../../lib/recent'
import { navigate } from '../../App'
import { ClaimHandleDialog } from './ClaimHandleDialog'
import { FollowButton } from './FollowButton'
import { GalleryLink } from './GalleryLink'
import { IdentityBar } from './IdentityBar'
import { LineageStory } from './LineageStory'
import { PersonAvatar } from './PersonAvatar'
import { ShareButton } from './ShareButton'
import { aspectRatio, srcSet } from './imageSources'
import { creditLine } from './creditLine'
import { useDocumentTitle } from './useDocumentTitle'
import { useIdentity } from './useIdentity'
import './gallery.css'
import './own-art.css'

// The post's image is drawn at most 820 px wide (gallery.css .post-page), less on a phone.
const POST_SIZES = '(max-width: 860px) calc(100vw - 40px), 820px'

export function PostPage({ id }: { id: string }) {
  const [identity, setIdentity] = useIdentity()
  const [post, setPost] = useState<Post | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [message, setMessage] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [claimFor, setClaimFor] = useState<null | (() => void)>(null)
  // Counts likes made here: a reload of the post (a new handle was just claimed) that
  // started before one keeps the like's own count, not the older one it read.
  const liked = useRef(0)
  useDocumentTitle(post ? `${post.title} · Arbor` : null)

  useEffect(() => {
    const ctrl = new AbortController()
    setPost(null)
    setError(null)
    const at = liked.current
    getPost(id, ctrl.signal).then((p) => {
      setPost((cur) => liked.current !== at && cur && cur.id === p.id
        ? { ...p, like_count: cur.like_count, liked_by_me: cur.liked_by_me } : p)
    }, (e: unknown) => {
      if (ctrl.signal.aborted) return
      setError(e instanceof ApiError && e.status === 404 ? 'This post does not exist or was unpublished.'
        : e instanceof ApiError ? e.friendly : 'Could not load this post.')
    })
    return () => ctrl.abort()
  }, [id, identity?.handle])

  async function run(action: () => Promise<void>, needsIdentity = true) {
    if (needsIdentity && !identity) {
      setClaimFor(() => () => { void run(action, false) })
      return
    }
    setBusy(true)
    setMessage(null)
    try {
      await action()
    } catch (e) {
      setMessage(e instanceof ApiError ? e.friendly : 'Something went wrong.')
    } finally {
      setBusy(false)
    }
  }

  if (error) {
    return (
      <main className="page gallery">
        <IdentityBar identity={identity} setIdentity={setIdentity} />
        <p role="alert">{error}</p>
      </main>
    )
  }
  if (!post) return <main className="page gallery post-page"><p className="muted">Loading…</p></main>

  const toggleLike = () => run(async () => {
    const r = await likePost(post.id, !post.liked_by_me)
    liked.current += 1
    setPost((cur) => ({ ...(cur ?? post), like_count: r.like_count, liked_by_me: r.liked_by_me }))
  })
  const remix = () => run(async () => {
    const r = await remixPost(post.id)
    rememberCanvas({ room: r.room, title: `Remix of ${post.title}`, token: r.edit_token, role: 'edit', lastOpened: Date.now(), editToken: r.edit_token, viewToken: r.view_token })
    const u = new URL(r.edit_url)
    navigate(`${u.pathname}${u.hash}`)
  }, false)
  const report = () => run(async () => {
    if (!window.confirm('Report this post to the moderators?')) return
    await reportPost(post.id, '')
    setMessage('Thank you. The post will be reviewed.')
  })
  const unpublish = () => run(async () => {
    if (!window.confirm('Unpublish this post? It disappears from the gallery; your canvas stays.')) return
    await deletePost(post.id)
    navigate(`/u/${encodeURIComponent(post.author.handle)}`)
  })

  return (
    <main className="page gallery post-page">
      <IdentityBar identity={identity} setIdentity={setIdentity} />
      <figure className="post-figure">
        <a href={post.image.url} target="_blank" rel="noreferrer">
          <img src={post.image.thumb_url} srcSet={srcSet(post.image)} sizes={POST_SIZES} alt={post.title}
            width={post.image.width || undefined} height={post.image.height || undefined}
            style={{ aspectRatio: aspectRatio(post.image) }} fetchPriority="high" />
        </a>
      </figure>
      <h1 className="post-title">{post.title}</h1>
      <p className="muted post-byline">
        <span>by <GalleryLink to={`/u/${encodeURIComponent(post.author.handle)}`} className="person-avatar-line">
          <PersonAvatar url={post.author.avatar_url} name={post.author.display_name} size={24} />
          {post.author.display_name} (@{post.author.handle})</GalleryLink>
        {' · '}{new Date(post.created_at).toLocaleDateString()}
        {post.remixed_from && (
          <> · remixed from <GalleryLink to={`/p/${encodeURIComponent(post.remixed_from.id)}`}>{post.remixed_from.title}</GalleryLink></>
        )}</span>
        {!post.is_author && <FollowButton handle={post.author.handle} identity={identity}
          onNeedIdentity={(retry) => setClaimFor(() => retry)} />}
      </p>
      {creditLine(post.credits) && <p className="post-credits">{creditLine(post.credits)}</p>}
      {post.model && <p className="post-model">Made with {post.model}</p>}
      {post.hidden && <p className="error">This post is hidden from the gallery while reports are reviewed.</p>}
      {post.description && <p className="post-description">{post.description}</p>}
      <div className="row post-actions">
        <button onClick={toggleLike} disabled={busy} aria-pressed={post.liked_by_me}
          className={post.liked_by_me ? 'liked' : ''}
          aria-label={`${post.liked_by_me ? 'Unlike' : 'Like'} · ${post.like_count}`}>
          ♥ <span className="like-count">{post.like_count}</span>
        </button>
        <button className="primary" onClick={remix} disabled={busy}>Remix</button>
        <ShareButton path={`/p/${encodeURIComponent(post.id)}`} title={post.title}
          text={`${post.title}, by ${post.author.display_name} on Arbor`} />
        {post.is_author
          ? <button onClick={unpublish} disabled={busy}>Unpublish</button>
          : <button onClick={report} disabled={busy}>Report</button>}
      </div>
      {message && <p role="status">{message}</p>}
      {post.lineage && post.lineage.length > 0 && (
        <section>
          <h2>How it grew</h2>
          <LineageStory steps={post.lineage} imageSrc={(s) => s.image?.small_url ?? null} copyPrompts />
        </section>
      )}
      {claimFor && (
        <ClaimHandleDialog reason="Pick a handle to like, follow or report." onClose={() => setClaimFor(null)}
          onDone={(i) => { setIdentity(i); const next = claimFor; setClaimFor(null); next() }} />
      )}
    </main>
  )
}
