import { useEffect, useState, type FormEvent, type MouseEvent } from 'react'
import { navigate } from '../App'
import { createRoom } from '../api/rooms'
import { ApiError } from '../api/client'
import { forgetCanvas, listRecent, rememberCanvas, type RecentCanvas } from '../lib/recent'
import { parseShareLink } from '../lib/links'
import { Logo } from '../canvas/Logo'
import { loadThumbs, type Thumb } from '../lib/thumbnails'
import { CanvasThumb } from './CanvasThumb'
import './home.css'

function when(ms: number): string {
  if (!ms) return ''
  const d = new Date(ms)
  const diff = Date.now() - ms
  if (diff < 60_000) return 'just now'
  if (diff < 3_600_000) return `${Math.floor(diff / 60_000)} min ago`
  if (diff < 86_400_000) return `${Math.floor(diff / 3_600_000)} h ago`
  return d.toLocaleDateString()
}

/** A plain click navigates in the app; a click asking for a new tab or window is left alone. */
function go(to: string) {
  return (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    e.preventDefault()
    navigate(to)
  }
}

function RecentCard({ r, thumb, onForget }: {
  r: RecentCanvas; thumb: Thumb | undefined; onForget: () => void
}) {
  const href = `/r/${r.room}#token=${r.token}`
  return (
    <li className="canvas-card">
      <CanvasThumb thumb={thumb} room={r.room} token={r.token} />
      <div className="canvas-card-body">
        <a className="canvas-card-title" href={href} onClick={go(href)}>{r.title}</a>
        <div className="canvas-card-meta">
          <span className={`badge ${r.role}`}>{r.role === 'edit' ? 'can edit' : 'view only'}</span>
          <span className="muted small">{when(r.lastOpened)}</span>
          <button className="ghost small forget" aria-label={`Forget ${r.title}`} onClick={onForget}>Forget</button>
        </div>
      </div>
    </li>
  )
}

export function HomePage() {
  const [title, setTitle] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [recent, setRecent] = useState<RecentCanvas[]>(listRecent)
  const [link, setLink] = useState('')
  // Read after the canvas just left has stored its picture (its clean-up runs before this).
  const [thumbs, setThumbs] = useState<Record<string, Thumb>>({})
  useEffect(() => setThumbs(loadThumbs()), [])

  async function create(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const name = title.trim() || 'Untitled canvas'
      const r = await createRoom(name, true)
      rememberCanvas({ room: r.room, title: name, token: r.edit_token, role: 'edit', editToken: r.edit_token, viewToken: r.view_token, lastOpened: Date.now() })
      navigate(`/r/${r.room}#token=${r.edit_token}`)
    } catch (err) {
      setError(err instanceof ApiError ? err.friendly : 'The canvas could not be created.')
      setBusy(false)
    }
  }

  function openLink(e: FormEvent) {
    e.preventDefault()
    const parsed = parseShareLink(link.trim())
    if (!parsed) {
      setError('That is not an Arbor canvas link (it should look like …/r/ROOM#token=…).')
      return
    }
    navigate(`/r/${parsed.room}#token=${parsed.token}`)
  }

  return (
    <main className="page home">
      <header className="home-head">
        <div>
          <h1 className="brand"><Logo size={34} /> Arbor</h1>
          <p className="tagline">Grow image ideas together: branch prompts into text and images, live.</p>
        </div>
        <nav className="home-nav" aria-label="Arbor">
          <a href="/gallery" onClick={go('/gallery')}>Gallery</a>
        </nav>
      </header>
      <section className="card home-start" aria-labelledby="new-h">
        <h2 id="new-h">Start a canvas</h2>
        <form className="row" onSubmit={create}>
          <label className="sr-only" htmlFor="title">Canvas title</label>
          <input id="title" value={title} maxLength={200} placeholder="Title (optional)"
            onChange={(e) => setTitle(e.target.value)} />
          <button className="primary" type="submit" disabled={busy}>{busy ? 'Creating…' : 'New canvas'}</button>
        </form>
        <form className="row" onSubmit={openLink}>
          <label className="sr-only" htmlFor="link">Open a share link</label>
          <input id="link" value={link} placeholder="Paste a share link" onChange={(e) => setLink(e.target.value)} />
          <button type="submit">Open</button>
        </form>
        {error && <p role="alert" className="error-text">{error}</p>}
      </section>
      <section aria-labelledby="recent-h">
        <h2 id="recent-h">Your canvases</h2>
        {recent.length === 0 ? (
          <p className="muted">Canvases you open in this browser appear here. See what others made in
            the <a href="/gallery" onClick={go('/gallery')}>gallery</a>.</p>
        ) : (
          <ul className="canvas-grid">
            {recent.map((r) => (
              <RecentCard key={r.room} r={r} thumb={thumbs[r.room]}
                onForget={() => { forgetCanvas(r.room); setRecent(listRecent()) }} />
            ))}
          </ul>
        )}
      </section>
    </main>
  )
}
