// The canvas's checkpoints: when, who changed it and why it was kept; a preview of each, and
// (for edit links) restoring one, which everyone sees and which can be undone.
import { useCallback, useEffect, useRef, useState, type KeyboardEvent } from 'react'
import { useArbor } from '../hooks/useArbor'
import { ApiError } from '../api/client'
import {
  checkpointSummary, clockTime, getCheckpoint, layoutPreview, listHistory, relativeTime,
  type Checkpoint, type CheckpointDetail,
} from '../api/history'
import { imageUrl } from '../api/uploads'
import { useRestore } from './useRestores'
import './history.css'

const PREVIEW_W = 300
const PREVIEW_H = 220

function message(e: unknown, what: string): string {
  return e instanceof ApiError ? e.friendly : `${what} failed.`
}

function fullTime(iso: string): string {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString()
}

/** A small read-only drawing of a checkpoint's canvas: blocks where they were, scaled to fit. */
function Preview({ detail }: { detail: CheckpointDetail }) {
  const { room, token } = useArbor()
  const { blocks, edges, meta } = detail.canvas
  const { width, height, rects } = layoutPreview(blocks ?? {}, PREVIEW_W, PREVIEW_H)
  const centre = new Map(rects.map((r) => [r.id, { x: r.left + r.width / 2, y: r.top + r.height / 2 }]))
  const count = rects.length
  return (
    <figure className="history-preview" aria-label={`Preview of the canvas ${relativeTime(detail.created_at)}`}>
      <figcaption className="small muted">
        {meta?.title ? <strong>{meta.title}</strong> : null}
        {meta?.title ? ' · ' : ''}{count} block{count === 1 ? '' : 's'}
      </figcaption>
      <div className="history-canvas" style={{ width, height }}>
        <svg className="history-edges" width={width} height={height} aria-hidden="true">
          {Object.entries(edges ?? {}).map(([id, e]) => {
            const a = e.source ? centre.get(e.source) : undefined
            const b = e.target ? centre.get(e.target) : undefined
            return a && b ? <line key={id} x1={a.x} y1={a.y} x2={b.x} y2={b.y} /> : null
          })}
        </svg>
        {rects.map((r) => {
          const b = r.block
          const img = b.image && typeof b.image === 'object' ? (b.image.thumbKey ?? b.image.key) : undefined
          const text = typeof b.text === 'string' ? b.text.trim() : ''
          return (
            <div key={r.id} className={`history-block ${b.kind === 'image' ? 'image' : 'text'}`} data-block={r.id}
              style={{ left: r.left, top: r.top, width: r.width, height: r.height }}>
              {img && <img src={imageUrl(room, img, token)} alt={text ? `Image: ${text.slice(0, 80)}` : 'Image'} loading="lazy" />}
              {text && !img && <span className="history-text">{text.length > 160 ? `${text.slice(0, 160)}…` : text}</span>}
            </div>
          )
        })}
        {count === 0 && <p className="muted small history-empty">The canvas was empty.</p>}
      </div>
    </figure>
  )
}

export function HistoryPanel({ onClose }: { onClose: () => void }) {
  const { room, token, readOnly } = useArbor()
  const restoreTo = useRestore()
  const [list, setList] = useState<Checkpoint[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [selected, setSelected] = useState<number | null>(null)
  const [detail, setDetail] = useState<CheckpointDetail | null>(null)
  const [previewError, setPreviewError] = useState<string | null>(null)
  const [confirming, setConfirming] = useState(false)
  const [restoring, setRestoring] = useState(false)
  // When the question closes (answered or not), focus goes back to the button that asked it.
  const askButton = useRef<HTMLButtonElement>(null)
  const refocus = useRef(false)
  const closeQuestion = useCallback(() => { refocus.current = true; setConfirming(false) }, [])
  useEffect(() => {
    if (confirming || !refocus.current) return
    refocus.current = false
    askButton.current?.focus()
  }, [confirming])
  const [tick, setTick] = useState(0)
  const refresh = useCallback(() => setTick((t) => t + 1), [])
  // "12 min ago" keeps up while the panel stays open.
  const [now, setNow] = useState(Date.now)
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 30_000)
    return () => window.clearInterval(t)
  }, [])

  // The list: when the panel opens, on Refresh and after a restore.
  useEffect(() => {
    const ac = new AbortController()
    listHistory(room, token, ac.signal).then(
      (r) => { setList(r.checkpoints); setError(null) },
      (e: unknown) => { if (!ac.signal.aborted) setError(message(e, 'Loading the history')) },
    )
    return () => ac.abort()
  }, [room, token, tick])

  // The selected checkpoint's content.
  useEffect(() => {
    setDetail(null)
    setPreviewError(null)
    setConfirming(false)
    if (selected == null) return
    const ac = new AbortController()
    getCheckpoint(room, token, selected, ac.signal).then(
      (d) => setDetail(d),
      (e: unknown) => { if (!ac.signal.aborted) setPreviewError(message(e, 'Loading the preview')) },
    )
    return () => ac.abort()
  }, [room, token, selected])

  // Escape inside the panel: leave the question, else close (not from the canvas: there it
  // ends text editing).
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'Escape') return
    e.stopPropagation()
    if (confirming) closeQuestion()
    else onClose()
  }

  const restore = useCallback(async (c: Checkpoint) => {
    setRestoring(true)
    try {
      if (await restoreTo(c)) closeQuestion()
    } finally {
      setRestoring(false)
      refresh()
    }
  }, [restoreTo, refresh, closeQuestion])

  const chosen = list?.find((c) => c.id === selected) ?? null
  return (
    <section className="side-panel history-panel" aria-labelledby="history-h" onKeyDown={onKeyDown}>
      <div className="panel-head">
        <h2 id="history-h">History</h2>
        <button className="ghost small" onClick={refresh} aria-label="Refresh the history">Refresh</button>
        <button className="ghost small" onClick={onClose} aria-label="Close the history">×</button>
      </div>
      {error && <p className="error-text small" role="alert">{error}</p>}
      {list == null && !error && <p className="muted small" role="status">Loading…</p>}
      {list?.length === 0 && (
        <p className="muted small">No checkpoints yet. One is kept every few minutes of editing and when everyone leaves.</p>
      )}
      {list && list.length > 0 && (
        <ol className="checkpoints" aria-label="Checkpoints, newest first">
          {list.map((c) => {
            const on = c.id === selected
            const { who, why } = checkpointSummary(c, now)
            return (
              <li key={c.id} data-checkpoint={c.id}>
                <button className={`checkpoint${on ? ' selected' : ''}`} aria-pressed={on}
                  onClick={() => setSelected(on ? null : c.id)} title={fullTime(c.created_at)}>
                  <span className="row checkpoint-when">
                    <time dateTime={c.created_at}>{clockTime(c.created_at, now)}</time>
                    <span className="small muted">{relativeTime(c.created_at, now)}</span>
                  </span>
                  <span className={`checkpoint-who reason-${c.reason}`}>{who}</span>
                  <span className="small muted">{why}</span>
                </button>
              </li>
            )
          })}
        </ol>
      )}
      {selected != null && (
        <div className="history-detail" aria-live="polite">
          {previewError && <p className="error-text small" role="alert">{previewError}</p>}
          {!detail && !previewError && <p className="muted small" role="status">Loading the preview…</p>}
          {detail && <Preview detail={detail} />}
          {detail && !readOnly && !confirming && (
            <button ref={askButton} className="primary" onClick={() => setConfirming(true)}>Restore this version</button>
          )}
          {detail && !readOnly && confirming && (
            <div className="history-confirm" role="group" aria-labelledby="restore-q">
              <p id="restore-q" className="small">
                Replace the canvas with the version from {chosen ? clockTime(chosen.created_at, now) : 'then'}?
                Everyone sees it; the current state is kept in the history.
              </p>
              <div className="row">
                <button className="primary" autoFocus disabled={restoring}
                  onClick={() => void restore(detail)}>{restoring ? 'Restoring…' : 'Restore'}</button>
                <button onClick={closeQuestion} disabled={restoring}>Cancel</button>
              </div>
            </div>
          )}
        </div>
      )}
    </section>
  )
}
