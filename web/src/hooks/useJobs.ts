import { useCallback, useEffect, useRef, useState } from 'react'
import * as Y from 'yjs'
import { useArbor } from './useArbor'
import { isActiveJob, listJobs, type Job } from '../api/jobs'
import { ApiError } from '../api/client'

const POLL_MS = 2000

/**
 * The room's recent jobs, newest first. Refreshes every 2 s while any job is queued or
 * running, and soon after any block's status or job changes in the document.
 */
export function useJobs(): { jobs: Job[]; error: string | null; loaded: boolean; refresh: () => void } {
  const { conn, room, token } = useArbor()
  const [jobs, setJobs] = useState<Job[]>([])
  const [error, setError] = useState<string | null>(null)
  const [loaded, setLoaded] = useState(false)
  const [tick, setTick] = useState(0)
  const refresh = useCallback(() => setTick((t) => t + 1), [])
  const inflight = useRef<AbortController | null>(null)

  useEffect(() => {
    inflight.current?.abort()
    const ac = new AbortController()
    inflight.current = ac
    listJobs(room, token, ac.signal).then(
      (r) => {
        setJobs(r.jobs)
        setError(null)
        setLoaded(true)
      },
      (e: unknown) => {
        if (ac.signal.aborted) return
        setError(e instanceof ApiError ? e.friendly : 'The queue could not be loaded.')
        setLoaded(true)
      },
    )
    return () => ac.abort()
  }, [room, token, tick])

  // Poll while something is waiting or running.
  const active = jobs.some(isActiveJob)
  useEffect(() => {
    if (!active) return
    const t = window.setInterval(refresh, POLL_MS)
    return () => window.clearInterval(t)
  }, [active, refresh])

  // A block's status or job changed (a run started, finished, was cancelled): look again.
  useEffect(() => {
    let timer = 0
    const onChange = (events: Y.YEvent<Y.AbstractType<unknown>>[]) => {
      const relevant = events.some((e) => e instanceof Y.YMapEvent &&
        (e.target === conn.blocks ? true : e.keysChanged.has('status') || e.keysChanged.has('jobId')))
      if (relevant && !timer) timer = window.setTimeout(() => { timer = 0; refresh() }, 250)
    }
    conn.blocks.observeDeep(onChange)
    return () => {
      conn.blocks.unobserveDeep(onChange)
      if (timer) window.clearTimeout(timer)
    }
  }, [conn, refresh])

  return { jobs, error, loaded, refresh }
}
