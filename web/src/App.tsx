import { useEffect, useState } from 'react'
import { HomePage } from './pages/HomePage'
import { NotFoundPage } from './pages/NotFoundPage'
import { roomFromPath } from './lib/links'
import { lazyPage } from './lib/lazyPage'

const CanvasPage = lazyPage(() => import('./pages/CanvasPage').then((m) => m.CanvasPage))
const GalleryPage = lazyPage(() => import('./pages/gallery/GalleryPage').then((m) => m.GalleryPage))
const PostPage = lazyPage(() => import('./pages/gallery/PostPage').then((m) => m.PostPage))
const ProfilePage = lazyPage(() => import('./pages/gallery/ProfilePage').then((m) => m.ProfilePage))
const RecoverPage = lazyPage(() => import('./pages/gallery/RecoverPage').then((m) => m.RecoverPage))

/** Client-side navigation: push a path (with fragment) and re-render the matching page. */
export function navigate(to: string): void {
  window.history.pushState(null, '', to)
  window.dispatchEvent(new PopStateEvent('popstate'))
}

export function App() {
  const [path, setPath] = useState(window.location.pathname)
  useEffect(() => {
    const update = () => setPath(window.location.pathname)
    window.addEventListener('popstate', update)
    return () => window.removeEventListener('popstate', update)
  }, [])
  if (path === '/' || path === '') return <HomePage />
  const room = roomFromPath(path)
  if (room) return <CanvasPage key={room} room={room} />
  if (path.startsWith('/r/')) return <NotFoundPage message="This canvas link is not valid." />
  if (path === '/gallery' || path === '/gallery/') return <GalleryPage />
  if (path === '/recover') return <RecoverPage />
  const post = /^\/p\/([A-Za-z0-9_-]{8,32})\/?$/.exec(path)
  if (post) return <PostPage key={post[1]} id={post[1]} />
  const person = /^\/u\/([A-Za-z0-9_]{1,30})\/?$/.exec(path)
  if (person) return <ProfilePage key={person[1]} handle={person[1]} />
  return <NotFoundPage message="There is nothing at this address." />
}
