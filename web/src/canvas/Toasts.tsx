export interface ToastAction {
  label: string
  run: () => void
}

export interface Toast {
  id: number
  message: string
  kind: 'error' | 'info'
  /** One button besides dismissing, e.g. "Undo restore". */
  action?: ToastAction
}

export function Toasts({ toasts, onDismiss }: { toasts: Toast[]; onDismiss: (id: number) => void }) {
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast ${t.kind}`}>
          <span>{t.message}</span>
          {t.action && (
            <button className="small toast-action" onClick={() => { onDismiss(t.id); t.action!.run() }}>
              {t.action.label}
            </button>
          )}
          <button className="ghost small" aria-label="Dismiss" onClick={() => onDismiss(t.id)}>×</button>
        </div>
      ))}
    </div>
  )
}
