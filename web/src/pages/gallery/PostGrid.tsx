import { useEffect, useRef } from 'react'
import type { PostSummary } from '../../api/gallery'
import { GalleryLink } from './GalleryLink'
import { LikeButton } from './LikeButton'
import { PersonAvatar } from './PersonAvatar'
import { coverSizes, srcSet } from './imageSources'

// A card's square is one column of the grid (gallery.css: columns of at least 220 px in a
// page of at most 1100 px): about 260 px, or the page's width on a phone (one column).
const CARD_SLOT = '260px'
const PHONE = '(max-width: 495px)'

interface LikeProps {
  canLike?: boolean
  onNeedIdentity?: (retry: () => void) => void
}

function PostCard({ post, canLike, onNeedIdentity }: { post: PostSummary } & LikeProps) {
  const { width, height } = post.image
  const sizes = `${PHONE} ${coverSizes(post.image, 'calc(100vw - 40px)')}, ${coverSizes(post.image, CARD_SLOT)}`
  return (
    <li className="post-card">
      <GalleryLink to={`/p/${encodeURIComponent(post.id)}`} label={post.title}>
        <img src={post.image.small_url} srcSet={srcSet(post.image)} sizes={sizes} alt={post.title}
          loading="lazy" decoding="async" width={width || undefined} height={height || undefined} />
      </GalleryLink>
      <div className="post-card-meta">
        <span className="post-card-title">{post.title}</span>
        <span className="post-card-line">
          <GalleryLink to={`/u/${encodeURIComponent(post.author.handle)}`} className="post-card-author person-avatar-line">
            <PersonAvatar url={post.author.avatar_url} name={post.author.display_name || post.author.handle} size={20} />
            <span className="post-card-author-name">{post.author.display_name || post.author.handle}</span>
          </GalleryLink>
          <LikeButton post={post} canLike={!!canLike} onNeedIdentity={onNeedIdentity} />
        </span>
      </div>
    </li>
  )
}

/** A grid of post thumbnails that asks for more when its end scrolls into view. */
export function PostGrid({ posts, more, done, loading, error, empty, canLike, onNeedIdentity }: LikeProps & {
  posts: PostSummary[]
  more: () => void
  done: boolean
  loading: boolean
  error: string | null
  empty: string
}) {
  const sentinel = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const el = sentinel.current
    if (!el || done) return
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) more()
    }, { rootMargin: '600px' })
    io.observe(el)
    return () => io.disconnect()
  }, [more, done])
  return (
    <>
      <ul className="post-grid" aria-label="Posts">
        {posts.map((p) => <PostCard key={p.id} post={p} canLike={canLike} onNeedIdentity={onNeedIdentity} />)}
      </ul>
      {error && <p role="alert" className="error">{error}</p>}
      {done && !error && posts.length === 0 && <p className="muted">{empty}</p>}
      {loading && <p className="muted">Loading…</p>}
      <div ref={sentinel} className="post-grid-end" />
    </>
  )
}
