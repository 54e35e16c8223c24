import { useCallback, useState } from 'react'
import { followingFeed, listPosts } from '../../api/gallery'
import { IdentityBar } from './IdentityBar'
import { PostGrid } from './PostGrid'
import { usePostPages, type PageLoader } from './usePostPages'
import { useDocumentTitle } from './useDocumentTitle'
import { useIdentity } from './useIdentity'
import './gallery.css'

type Tab = 'new' | 'top' | 'following'
const TABS: { id: Tab; label: string }[] = [
  { id: 'new', label: 'New' },
  { id: 'top', label: 'Top this week' },
  { id: 'following', label: 'Following' },
]

export function GalleryPage() {
  const [identity, setIdentity] = useIdentity()
  const [tab, setTab] = useState<Tab>('new')
  const load: PageLoader = useCallback((cursor, signal) =>
    tab === 'following' ? followingFeed(cursor, 24, signal) : listPosts(tab, cursor, 24, signal), [tab])
  const pages = usePostPages(load, `${tab}:${identity?.handle ?? ''}`)
  const needsHandle = tab === 'following' && identity === null
  useDocumentTitle('Gallery · Arbor')
  return (
    <main className="page gallery">
      <IdentityBar identity={identity} setIdentity={setIdentity} />
      <h1>Gallery</h1>
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t.id} role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'active' : ''}
            onClick={() => setTab(t.id)}>{t.label}</button>
        ))}
      </div>
      {needsHandle ? (
        <p className="muted">Pick a handle to follow people and see their posts here.</p>
      ) : identity === undefined && tab === 'following' ? null : (
        <PostGrid {...pages} empty={tab === 'following' ? 'Nobody you follow has posted yet.' : 'Nothing published yet.'} />
      )}
    </main>
  )
}
