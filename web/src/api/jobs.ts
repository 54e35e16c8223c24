import { api } from './client'
import { loadIdentity } from '../lib/identity'

export interface JobRequest {
  tool: string
  inputs: string[]
  outputs: string[]
  params: Record<string, unknown>
  /** Who asked: the person's display name (the usage panel groups spend by it). */
  author?: string
}

export const startJob = (room: string, token: string, req: JobRequest) =>
  api<{ job_id: string; outputs: string[] }>(`/api/rooms/${encodeURIComponent(room)}/jobs`, {
    method: 'POST', token, body: req,
  })

/** Jobs this page asked to cancel: their cancellation is not news to this person. */
export const cancelledHere = new Set<string>()

/** Cancel a job; `by` (the person's display name) is recorded, so the job's owner is told
 * who cancelled it. */
export const cancelJob = (room: string, token: string, jobId: string, by?: string) => {
  cancelledHere.add(jobId)
  const name = by ?? loadIdentity()?.name // this browser's person, wherever the button is
  return api<unknown>(`/api/rooms/${encodeURIComponent(room)}/jobs/${encodeURIComponent(jobId)}/cancel`, {
    method: 'POST', token, body: name ? { by: name } : {},
  })
}

export type JobStatus = 'queued' | 'running' | 'done' | 'error' | 'cancelled'

export interface Job {
  job_id: string
  tool: string
  status: JobStatus | string
  /** How many queued jobs are ahead of this one (only while it is queued). */
  position?: number | null
  error: string | null
  inputs: string[]
  outputs: string[]
  attempt?: number
  params?: Record<string, unknown>
  /** Display name of who started it. */
  requested_by?: string | null
  /** Display name of who cancelled it (null: unknown, or not cancelled). */
  cancelled_by?: string | null
  created_at?: string
  finished_at?: string | null
}

export const getJob = (room: string, token: string, jobId: string, signal?: AbortSignal) =>
  api<Job>(`/api/rooms/${encodeURIComponent(room)}/jobs/${encodeURIComponent(jobId)}`, { token, signal })

export const listJobs = (room: string, token: string, signal?: AbortSignal) =>
  api<{ jobs: Job[] }>(`/api/rooms/${encodeURIComponent(room)}/jobs`, { token, signal })

export const isActiveJob = (j: { status: string }) => j.status === 'queued' || j.status === 'running'
