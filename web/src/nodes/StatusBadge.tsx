import { useState } from 'react'
import type { BlockData } from '../sync/bindings'
import { useArbor } from '../hooks/useArbor'
import { cancelJob } from '../api/jobs'
import { ApiError } from '../api/client'
import { toolLabel } from '../api/tools'
import { useTools } from '../hooks/useTools'
import { useRunAgain } from '../canvas/useToolRunner'

const LABEL: Record<string, string> = {
  queued: 'Queued', running: 'Running', done: 'Done', error: 'Error', cancelled: 'Cancelled',
}

/** Job state of a block: badge ("Done · Generate image"), progress bar, error text, cancel
 * while it runs, and "Run again" once it failed or was cancelled. */
export function StatusBadge({ id, data }: { id: string; data: BlockData }) {
  const { room, token, readOnly, notify } = useArbor()
  const [cancelling, setCancelling] = useState(false)
  const { tools } = useTools()
  const runAgain = useRunAgain()
  if (data.status === 'idle') return null
  const active = data.status === 'queued' || data.status === 'running'
  async function cancel() {
    if (!data.jobId) return
    setCancelling(true)
    try {
      await cancelJob(room, token, data.jobId)
    } catch (e) {
      notify(e instanceof ApiError ? `Cancel failed: ${e.friendly}` : 'Cancel failed.', 'error')
    } finally {
      setCancelling(false)
    }
  }
  return (
    <div className={`status status-${data.status}`}>
      <span className="status-label">{LABEL[data.status] ?? data.status}{data.tool ? ` · ${toolLabel(data.tool, tools)}` : ''}</span>
      {active && !readOnly && data.jobId && (
        <button className="ghost small nodrag" onClick={cancel} disabled={cancelling} aria-label="Cancel this job">
          {cancelling ? 'Cancelling…' : 'Cancel'}
        </button>
      )}
      {data.status === 'running' && (
        <div className="progress" role="progressbar" aria-label="Progress" aria-valuemin={0} aria-valuemax={100}
          aria-valuenow={data.progress == null ? undefined : Math.round(data.progress * 100)}>
          <div className={data.progress == null ? 'bar indeterminate' : 'bar'}
            style={{ width: data.progress == null ? undefined : `${Math.round(data.progress * 100)}%` }} />
        </div>
      )}
      {data.status === 'error' && data.error && <p className="status-error">{data.error}</p>}
      {(data.status === 'error' || data.status === 'cancelled') && !readOnly && data.jobId && data.tool !== 'split' && (
        <button className="ghost small nodrag" onClick={() => void runAgain(id)}>Run again</button>
      )}
    </div>
  )
}
