import { useConnectionState } from '../hooks/useConnectionState'
import { useSaveState } from '../hooks/useSaveState'

const CONN_LABEL = {
  connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline', stopped: 'Disconnected',
}

/** Connection state and "all changes saved" / "saving…". */
export function StatusIndicator() {
  const { status, retryIn } = useConnectionState()
  const label = retryIn != null && (status === 'connecting' || status === 'reconnecting')
    ? `Reconnecting in ${retryIn} s…` : CONN_LABEL[status]
  const save = useSaveState()
  const saveText = status !== 'connected'
    ? (save === 'saving' ? 'Changes kept in this browser' : '')
    : save === 'saved' ? 'All changes saved' : save === 'saving' ? 'Saving…' : ''
  return (
    <div className="status-indicator" role="status" aria-live="polite">
      <span className={`dot ${status}`} aria-hidden="true" />
      <span>{label}</span>
      {saveText && <span className="muted">· {saveText}</span>}
    </div>
  )
}
