import { api } from './client'

export interface JobRequest {
  tool: string
  inputs: string[]
  outputs: string[]
  params: Record<string, unknown>
}

export const startJob = (room: string, token: string, req: JobRequest) =>
  api<{ job_id: string; outputs: string[] }>(`/api/rooms/${encodeURIComponent(room)}/jobs`, {
    method: 'POST', token, body: req,
  })

export const cancelJob = (room: string, token: string, jobId: string) =>
  api<unknown>(`/api/rooms/${encodeURIComponent(room)}/jobs/${encodeURIComponent(jobId)}/cancel`, {
    method: 'POST', token,
  })
