import { useCallback, useEffect, useState } from 'react'
import { followingFeed, listPosts, type Period } from '../../api/gallery'
import { ClaimHandleDialog } from './ClaimHandleDialog'
import { GalleryTabs, type Tab } from './GalleryTabs'
import { searchOf, viewFromSearch } from './galleryView'
import { IdentityBar } from './IdentityBar'
import { NewPostsNotice } from './NewPostsNotice'
import { OwnArtDialog } from './OwnArtDialog'
import { PostGrid } from './PostGrid'
import { usePostPages, type PageLoader } from './usePostPages'
import { useDocumentTitle } from './useDocumentTitle'
import { useIdentity } from './useIdentity'
import { useNewPosts } from './useNewPosts'
import './gallery.css'

export function GalleryPage() {
  const [identity, setIdentity] = useIdentity()
  const [tab, setTab] = useState<Tab>(() => viewFromSearch(window.location.search).tab)
  const [period, setPeriod] = useState<Period>(() => viewFromSearch(window.location.search).period)
  const [refresh, setRefresh] = useState(0)
  const [claimFor, setClaimFor] = useState<null | (() => void)>(null)
  // null: the handle being claimed is for posting art (the form opens once it is).
  const [posting, setPosting] = useState<boolean | null>(false)
  const load: PageLoader = useCallback((cursor, signal) =>
    tab === 'following' ? followingFeed(cursor, 24, signal) : listPosts(tab, cursor, 24, signal, period), [tab, period])
  // Who is looking matters to Following only: a handle claimed here (to like a card) has
  // liked nothing yet, so New and Top stay as they are, with the like just given.
  const who = tab === 'following' ? identity?.handle ?? '' : ''
  const pages = usePostPages(load, `${tab}:${period}:${who}:${refresh}`)
  const found = useNewPosts(pages.posts[0]?.id ?? null, tab !== 'top' && !!(tab === 'new' || identity),
    tab === 'following')
  const needsHandle = tab === 'following' && identity === null
  useDocumentTitle('Gallery · Arbor')
  useEffect(() => {
    const search = searchOf({ tab, period })
    if (search !== window.location.search) window.history.replaceState(null, '', `/gallery${search}`)
  }, [tab, period])

  const showNew = () => {
    setRefresh((n) => n + 1)
    window.scrollTo({ top: 0 })
  }

  return (
    <main className="page gallery">
      <IdentityBar identity={identity} setIdentity={setIdentity} />
      <div className="gallery-title-row">
        <h1>Gallery</h1>
        <button className="primary" onClick={() => identity ? setPosting(true) : (setPosting(null), setClaimFor(() => () => setPosting(true)))}>
          Post your art
        </button>
      </div>
      <GalleryTabs tab={tab} setTab={setTab} period={period} setPeriod={setPeriod} />
      {tab !== 'top' && <NewPostsNotice found={found} onShow={showNew} />}
      {needsHandle ? (
        <p className="muted">Pick a handle to follow people and see their posts here.</p>
      ) : identity === undefined && tab === 'following' ? null : (
        <PostGrid {...pages} empty={tab === 'following' ? 'Nobody you follow has posted yet.' : 'Nothing published yet.'}
          canLike={!!identity} onNeedIdentity={(retry) => setClaimFor(() => retry)} />
      )}
      {posting && <OwnArtDialog onClose={() => setPosting(false)} />}
      {claimFor && (
        <ClaimHandleDialog reason={posting === null ? 'Pick a handle to post your art. No password: this browser keeps it.'
          : 'Pick a handle to like posts. No password: this browser keeps it.'}
          onClose={() => { setClaimFor(null); if (posting === null) setPosting(false) }}
          onDone={(i) => { setIdentity(i); const next = claimFor; setClaimFor(null); next() }} />
      )}
    </main>
  )
}
