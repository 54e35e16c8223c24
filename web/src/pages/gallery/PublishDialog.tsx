import { useEffect, useState, type FormEvent } from 'react'
import { DESCRIPTION_MAX, publishBlock, roomLineage, TITLE_MAX, type Identity, type LineageStep, type Post } from '../../api/gallery'
import { ApiError } from '../../api/client'
import { imageUrl } from '../../api/uploads'
import { ClaimHandleDialog } from './ClaimHandleDialog'
import { LineageStory } from './LineageStory'
import { useIdentity } from './useIdentity'
import './gallery.css'

/** Publish an image block: shows its lineage, asks for a title, a description and
 * whether the prompts go public too. */
export function PublishDialog({ room, token, blockId, onClose }: {
  room: string
  token: string
  blockId: string
  onClose: () => void
}) {
  const [identity, setIdentity] = useIdentity()
  const [steps, setSteps] = useState<LineageStep[] | null>(null)
  const [title, setTitle] = useState('')
  const [description, setDescription] = useState('')
  const [includePrompts, setIncludePrompts] = useState(true)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [published, setPublished] = useState<Post | null>(null)

  useEffect(() => {
    const ctrl = new AbortController()
    roomLineage(room, blockId, token, ctrl.signal).then((r) => {
      setSteps(r.lineage)
      const first = r.lineage.find((s) => s.text.trim())
      setTitle((t) => t || (first ? first.text.trim().slice(0, 80) : ''))
    }, (e: unknown) => {
      if (!ctrl.signal.aborted) setError(e instanceof ApiError ? e.friendly : 'Could not read this block.')
    })
    return () => ctrl.abort()
  }, [room, blockId, token])

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') onClose() }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onClose])

  async function submit(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      setPublished(await publishBlock(room, token, {
        block_id: blockId, title: title.trim(), description: description.trim(), include_prompts: includePrompts,
      }))
    } catch (err) {
      setError(err instanceof ApiError ? err.friendly : 'Could not publish.')
    } finally {
      setBusy(false)
    }
  }

  if (identity === null) {
    return <ClaimHandleDialog reason="Posts in the gallery carry your handle." onClose={onClose}
      onDone={(i: Identity) => setIdentity(i)} />
  }
  const shown = steps && !includePrompts ? steps.slice(-1).map((s) => ({ ...s, text: '' })) : steps
  return (
    <div className="modal-backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget) onClose() }}>
      <div className="modal wide publish-dialog" role="dialog" aria-modal="true" aria-labelledby="publish-title">
        {published ? (
          <>
            <h2 id="publish-title">Published</h2>
            <p>“{published.title}” is in the gallery.</p>
            <div className="row end">
              <a className="button primary" href={`/p/${encodeURIComponent(published.id)}`} target="_blank" rel="noreferrer">View post</a>
              <button onClick={onClose}>Close</button>
            </div>
          </>
        ) : (
          <form onSubmit={submit} className="stack">
            <h2 id="publish-title">Publish to the gallery</h2>
            <label htmlFor="publish-title-input">Title</label>
            <input id="publish-title-input" value={title} maxLength={TITLE_MAX} required autoFocus
              onChange={(e) => setTitle(e.target.value)} />
            <label htmlFor="publish-description">Description (optional)</label>
            <textarea id="publish-description" value={description} maxLength={DESCRIPTION_MAX} rows={3}
              onChange={(e) => setDescription(e.target.value)} />
            <label className="row">
              <input type="checkbox" checked={includePrompts} onChange={(e) => setIncludePrompts(e.target.checked)} />
              Include the prompts that led to it
            </label>
            <div className="publish-lineage">
              {shown ? <LineageStory steps={shown} imageSrc={(s) => s.image ? imageUrl(room, s.image.thumbKey || s.image.key, token) : null} />
                : !error && <p className="muted">Reading the lineage…</p>}
            </div>
            {error && <p role="alert" className="error">{error}</p>}
            <div className="row end">
              <button type="button" onClick={onClose}>Cancel</button>
              <button type="submit" className="primary" disabled={busy || !title.trim() || !steps || identity === undefined}>
                {busy ? 'Publishing…' : 'Publish'}
              </button>
            </div>
          </form>
        )}
      </div>
    </div>
  )
}
