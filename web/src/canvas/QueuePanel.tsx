import { useState } from 'react'
import { useArbor } from '../hooks/useArbor'
import { useLabels } from '../hooks/useLabels'
import { cancelJob, isActiveJob, type Job } from '../api/jobs'
import { ApiError } from '../api/client'

const STATUS_LABEL: Record<string, string> = {
  queued: 'Queued', running: 'Running', done: 'Done', error: 'Failed', cancelled: 'Cancelled',
}

function where(j: Job): string {
  if (j.status !== 'queued' || j.position == null) return ''
  return j.position === 0 ? 'next in line' : `${j.position} ahead in line`
}

/** "Started by Ada · cancelled by Ben", or "" when the server knows neither. */
function who(j: Job): string {
  const parts = [j.requested_by && `started by ${j.requested_by}`, j.cancelled_by && `cancelled by ${j.cancelled_by}`]
    .filter(Boolean).join(' · ')
  return parts ? parts[0].toUpperCase() + parts.slice(1) : ''
}

/** The room's jobs: what is waiting, running, finished or failed, with cancel buttons. */
export function QueuePanel({ jobs, error, loaded, refresh, onShow, onClose }: {
  jobs: Job[]
  error: string | null
  loaded: boolean
  refresh: () => void
  onShow: (blockId: string) => void
  onClose: () => void
}) {
  const { room, token, readOnly, notify, identity } = useArbor()
  const { tool: toolLabel } = useLabels()
  const [cancelling, setCancelling] = useState<Set<string>>(new Set())
  const label = (name: string) => toolLabel(name)

  async function cancel(j: Job) {
    setCancelling((s) => new Set(s).add(j.job_id))
    try {
      await cancelJob(room, token, j.job_id, identity.name)
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409)) {
        notify(e instanceof ApiError ? `Cancel failed: ${e.friendly}` : 'Cancel failed.', 'error')
      }
    } finally {
      setCancelling((s) => {
        const n = new Set(s)
        n.delete(j.job_id)
        return n
      })
      refresh()
    }
  }

  return (
    <section className="side-panel queue-panel" aria-labelledby="queue-h">
      <div className="panel-head">
        <h2 id="queue-h">Queue</h2>
        <button className="ghost small" onClick={refresh} aria-label="Refresh the queue">Refresh</button>
        <button className="ghost small" onClick={onClose} aria-label="Close the queue">×</button>
      </div>
      {error && <p className="error-text small" role="alert">{error}</p>}
      {loaded && jobs.length === 0 && !error && <p className="muted small">No tool has run on this canvas yet.</p>}
      <ol className="jobs">
        {jobs.map((j) => (
          <li key={j.job_id} className={`job job-${j.status}`} data-job={j.job_id}>
            <div className="row">
              <strong className="job-tool">{label(j.tool)}</strong>
              <span className={`job-status status-${j.status}`}>{STATUS_LABEL[j.status] ?? j.status}</span>
              {where(j) && <span className="muted small job-position">{where(j)}</span>}
            </div>
            {who(j) && <p className="muted small job-who">{who(j)}</p>}
            {j.error && <p className="status-error job-error">{j.error}</p>}
            <div className="row">
              {j.outputs.length > 0 && (
                <button className="small" onClick={() => onShow(j.outputs[0])}
                  aria-label={`Show the output of ${label(j.tool)}`}>Show</button>
              )}
              {isActiveJob(j) && !readOnly && (
                <button className="small" onClick={() => void cancel(j)} disabled={cancelling.has(j.job_id)}
                  aria-label={`Cancel ${label(j.tool)}`}>
                  {cancelling.has(j.job_id) ? 'Cancelling…' : 'Cancel'}
                </button>
              )}
            </div>
          </li>
        ))}
      </ol>
    </section>
  )
}
