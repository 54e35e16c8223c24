import { useEffect, useState, type FormEvent } from 'react'
import { DESCRIPTION_MAX, TITLE_MAX } from '../../api/gallery'
import { ApiError } from '../../api/client'
import { MODEL_MAX, PROMPT_MAX, postOwnArt } from '../../api/ownArt'
import { AVATAR_TYPES } from '../../api/avatar'
import { MAX_UPLOAD_BYTES } from '../../api/uploads'
import { rememberCanvas } from '../../lib/recent'
import { navigate } from '../../App'
import './gallery.css'
import './own-art.css'

/** Post an image made elsewhere, with its prompt and the model that made it. The server
 *  checks everything again (type from the bytes, sizes, text); these checks only spare a
 *  round trip. On success the post's page opens. */
export function OwnArtDialog({ onClose }: { onClose: () => void }) {
  const [file, setFile] = useState<File | null>(null)
  const [title, setTitle] = useState('')
  const [prompt, setPrompt] = useState('')
  const [model, setModel] = useState('')
  const [description, setDescription] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape' && !busy) onClose() }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onClose, busy])

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (!file) return
    if (file.size > MAX_UPLOAD_BYTES) {
      setError(`The file is ${(file.size / 1e6).toFixed(1)} MB; the limit is ${MAX_UPLOAD_BYTES / 1e6} MB.`)
      return
    }
    setBusy(true)
    setError(null)
    try {
      const { post, room } = await postOwnArt({ file, title: title.trim(), prompt: prompt.trim(), model: model.trim(), description: description.trim() })
      rememberCanvas({ room: room.room, title: title.trim(), token: room.edit_token, role: 'edit',
        editToken: room.edit_token, viewToken: room.view_token })
      navigate(`/p/${encodeURIComponent(post.id)}`)
    } catch (err) {
      setError(err instanceof ApiError ? err.friendly : 'Could not post this.')
      setBusy(false)
    }
  }

  const ready = !!file && !!title.trim() && !!prompt.trim() && !busy
  return (
    <div className="modal-backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget && !busy) onClose() }}>
      <div className="modal wide" role="dialog" aria-modal="true" aria-labelledby="own-art-title">
        <form onSubmit={submit} className="stack">
          <h2 id="own-art-title">Post your art</h2>
          <p className="small muted">An image you made elsewhere. Its prompt and image become a canvas anyone can remix.</p>
          <label htmlFor="own-art-file">Image</label>
          <input id="own-art-file" type="file" accept={AVATAR_TYPES.join(',')} required
            onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          <label htmlFor="own-art-name">Title</label>
          <input id="own-art-name" value={title} maxLength={TITLE_MAX} required onChange={(e) => setTitle(e.target.value)} />
          <label htmlFor="own-art-prompt">Prompt</label>
          <textarea id="own-art-prompt" rows={3} value={prompt} maxLength={PROMPT_MAX} required
            onChange={(e) => setPrompt(e.target.value)} />
          <label htmlFor="own-art-model">Model (optional)</label>
          <input id="own-art-model" value={model} maxLength={MODEL_MAX} placeholder="e.g. Flux 1.1 Pro"
            onChange={(e) => setModel(e.target.value)} />
          <label htmlFor="own-art-description">Description (optional)</label>
          <textarea id="own-art-description" rows={2} value={description} maxLength={DESCRIPTION_MAX}
            onChange={(e) => setDescription(e.target.value)} />
          {error && <p role="alert" className="error">{error}</p>}
          <div className="row end">
            <button type="button" onClick={onClose} disabled={busy}>Cancel</button>
            <button type="submit" className="primary" disabled={!ready}>{busy ? 'Posting…' : 'Post'}</button>
          </div>
        </form>
      </div>
    </div>
  )
}
