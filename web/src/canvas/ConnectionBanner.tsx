import { useConnectionState } from '../hooks/useConnectionState'
import { navigate } from '../App'

/** A clear message when the server closed the connection for good. */
export function ConnectionBanner() {
  const { fatal } = useConnectionState()
  if (!fatal) return null
  return (
    <div className="fatal-banner" role="alert">
      <p>{fatal.message} <span className="muted small">(code {fatal.code})</span></p>
      <p>You can still look at what this browser has; changes are kept here but not sent.</p>
      <div className="row">
        <button onClick={() => window.location.reload()}>Reload</button>
        <button className="ghost" onClick={() => navigate('/')}>Your canvases</button>
      </div>
    </div>
  )
}
