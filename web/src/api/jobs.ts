import { api } from './client'

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

export const cancelJob = (room: string, token: string, jobId: string) =>
  api<unknown>(`/api/rooms/${encodeURIComponent(room)}/jobs/${encodeURIComponent(jobId)}/cancel`, {
    method: 'POST', token,
  })

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
  created_at?: string
  finished_at?: string | null
}

export const listJobs = (room: string, token: string, signal?: AbortSignal) =>
  api<{ jobs: Job[] }>(`/api/rooms/${encodeURIComponent(room)}/jobs`, { token, signal })

export const isActiveJob = (j: { status: string }) => j.status === 'queued' || j.status === 'running'
