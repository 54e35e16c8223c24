// Short messages at the bottom of the canvas: what just happened, and sometimes a way back.
//
// A message about ongoing work ("Uploading…") carries a `key`; the message that ends that
// work ("Image uploaded.") uses the same key and takes its place, so the two never stand
// side by side. Errors are dark text on a light red ground (readable whatever page styles
// are loaded: see toasts.css), and stay longer than news.
import { useCallback, useEffect, useRef, useState } from 'react'
import './toasts.css'

export interface ToastAction {
  label: string
  run: () => void
}

export interface ToastOptions {
  /** Replaces the toast with the same key (the end of some work replaces its start). */
  key?: string
  /** Work in progress: stays until replaced (or at most a minute). */
  pending?: boolean
}

export interface Toast {
  id: number
  message: string
  kind: 'error' | 'info'
  /** One button besides dismissing, e.g. "Undo restore". */
  action?: ToastAction
  key?: string
  pending?: boolean
}

export type Notify = (message: string, kind?: 'error' | 'info', action?: ToastAction,
  opts?: ToastOptions) => void

const MAX_SHOWN = 4

/** How long a toast stays: news 5 s, errors 10 s, with a way back 15 s, pending up to 60 s. */
export function toastLifetime(t: Pick<Toast, 'kind' | 'action' | 'pending'>): number {
  if (t.pending) return 60_000
  if (t.action) return 15_000
  return t.kind === 'error' ? 10_000 : 5_000
}

/** The toasts of one page and `notify`, which adds (or, with a key, replaces) one. */
export function useToasts(): { toasts: Toast[]; notify: Notify; dismiss: (id: number) => void } {
  const [toasts, setToasts] = useState<Toast[]>([])
  const nextId = useRef(0)
  const timers = useRef(new Map<number, number>())

  const dismiss = useCallback((id: number) => {
    const t = timers.current.get(id)
    if (t != null) window.clearTimeout(t)
    timers.current.delete(id)
    setToasts((all) => all.filter((x) => x.id !== id))
  }, [])

  const notify = useCallback<Notify>((message, kind = 'info', action, opts = {}) => {
    const id = ++nextId.current
    const toast: Toast = { id, message, kind, action, key: opts.key, pending: opts.pending }
    setToasts((all) => {
      const same = opts.key ? all.find((x) => x.key === opts.key) : undefined
      if (same) {
        const t = timers.current.get(same.id)
        if (t != null) window.clearTimeout(t)
        timers.current.delete(same.id)
        return all.map((x) => (x === same ? toast : x))
      }
      return [...all, toast].slice(-MAX_SHOWN)
    })
    timers.current.set(id, window.setTimeout(() => dismiss(id), toastLifetime(toast)))
  }, [dismiss])

  useEffect(() => {
    const all = timers.current
    return () => all.forEach((t) => window.clearTimeout(t))
  }, [])

  return { toasts, notify, dismiss }
}

export function Toasts({ toasts, onDismiss }: { toasts: Toast[]; onDismiss: (id: number) => void }) {
  const errors = toasts.filter((t) => t.kind === 'error')
  const news = toasts.filter((t) => t.kind !== 'error')
  return (
    <div className="toasts">
      {/* Errors are announced at once; news politely. Both regions always exist, so a
          screen reader hears what is added to them. */}
      <div role="alert" className="toast-list">{errors.map((t) => <ToastItem key={t.id} t={t} onDismiss={onDismiss} />)}</div>
      <div role="status" aria-live="polite" className="toast-list">{news.map((t) => <ToastItem key={t.id} t={t} onDismiss={onDismiss} />)}</div>
    </div>
  )
}

function ToastItem({ t, onDismiss }: { t: Toast; onDismiss: (id: number) => void }) {
  return (
    <div className={`toast ${t.kind}${t.pending ? ' pending' : ''}`} data-toast-key={t.key}>
      {t.kind === 'error' && <span className="toast-icon" aria-hidden="true">!</span>}
      <span className="toast-text">{t.message}</span>
      {t.action && (
        <button className="small toast-action" onClick={() => { onDismiss(t.id); t.action!.run() }}>
          {t.action.label}
        </button>
      )}
      <button className="ghost small toast-close" aria-label="Dismiss" title="Dismiss"
        onClick={() => onDismiss(t.id)}>×</button>
    </div>
  )
}
