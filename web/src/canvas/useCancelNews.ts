// "Ben cancelled your Generate image run" — once, with "Run again".
//
// A run is this person's when its output blocks carry their id as author (the app writes
// it when it makes them). When such a block turns "cancelled" and this page did not ask for
// it, the job record says who did (`cancelled_by`, recorded by the server from the cancel
// request); "Run again" asks for the same tool on the same inputs, into the same blocks.
import { useEffect, useRef } from 'react'
import * as Y from 'yjs'
import { useArbor } from '../hooks/useArbor'
import { useLabels } from '../hooks/useLabels'
import { ApiError } from '../api/client'
import { cancelledHere, getJob, startJob, type Job } from '../api/jobs'

/** The jobs whose output blocks of `author` just turned "cancelled" in these events. */
export function cancelledJobsOf(events: readonly Y.YEvent<Y.AbstractType<unknown>>[], author: string): string[] {
  const jobs = new Set<string>()
  for (const e of events) {
    if (!(e instanceof Y.YMapEvent) || !e.keysChanged.has('status')) continue
    const block = e.target as Y.Map<unknown>
    if (block.get('status') !== 'cancelled' || block.get('author') !== author) continue
    const job = block.get('jobId')
    if (typeof job === 'string' && job) jobs.add(job)
  }
  return Array.from(jobs)
}

export function useCancelNews(): void {
  const { conn, room, token, identity, readOnly, notify } = useArbor()
  const labels = useLabels()
  const told = useRef(new Set<string>())
  const label = useRef(labels.tool)
  label.current = labels.tool

  useEffect(() => {
    if (readOnly) return
    const ac = new AbortController()
    const rerun = (j: Job) => {
      const outputs = j.outputs.filter((id) => conn.blocks.has(id))
      startJob(room, token, { tool: j.tool, inputs: j.inputs, outputs, params: j.params ?? {}, author: identity.name })
        .catch((e: unknown) => notify(`${label.current(j.tool)} could not start again: ${e instanceof ApiError ? e.friendly : 'it failed'}`, 'error'))
    }
    const tell = async (jobId: string) => {
      try {
        const j = await getJob(room, token, jobId, ac.signal)
        if (j.status !== 'cancelled' || (j.cancelled_by && j.cancelled_by === identity.name)) return
        const what = `your ${label.current(j.tool)} run`
        // No name: the server stopped it (one of its blocks was deleted) or an older app
        // cancelled it; say what happened without blaming anyone.
        notify(j.cancelled_by ? `${j.cancelled_by} cancelled ${what}.` : `${what[0].toUpperCase()}${what.slice(1)} was stopped.`, 'info',
          { label: 'Run again', run: () => rerun(j) })
      } catch {
        // The job is gone or the server is unreachable: nothing worth saying.
      }
    }
    const onChange = (events: Y.YEvent<Y.AbstractType<unknown>>[], tr: Y.Transaction) => {
      // Not what this page did, nor what loading the canvas brings (old news).
      if (tr.origin === conn.localOrigin || tr.origin === conn.idb || !conn.getState().synced) return
      for (const jobId of cancelledJobsOf(events, identity.id)) {
        if (cancelledHere.has(jobId) || told.current.has(jobId)) continue
        told.current.add(jobId)
        void tell(jobId)
      }
    }
    conn.blocks.observeDeep(onChange)
    return () => {
      ac.abort()
      conn.blocks.unobserveDeep(onChange)
    }
  }, [conn, room, token, identity.id, identity.name, readOnly, notify])
}
