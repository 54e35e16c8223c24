import { useEffect, useState } from 'react'
import { HomePage } from './pages/HomePage'
import { CanvasPage } from './pages/CanvasPage'
import { NotFoundPage } from './pages/NotFoundPage'
import { roomFromPath } from './lib/links'

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
  if (path === '/gallery' || path.startsWith('/p/') || path.startsWith('/u/')) {
    return <NotFoundPage title="Coming soon" message="The gallery and profiles are not open yet." />
  }
  return <NotFoundPage message="There is nothing at this address." />
}
