import { useEffect, useState } from 'react'
import { useArbor } from './useArbor'
import { estimateRun, type Estimate } from '../api/models'

/** The server's estimate of a run ("4 images with …, about $0.16"), or null. */
export function useEstimate(tool: string | null, inputs: readonly string[],
  params: Record<string, unknown>): Estimate | null {
  const { room, token } = useArbor()
  const [estimate, setEstimate] = useState<Estimate | null>(null)
  const key = tool ? JSON.stringify([tool, inputs, params]) : ''
  useEffect(() => {
    setEstimate(null)
    if (!tool) return
    const ac = new AbortController()
    const t = window.setTimeout(() => {
      estimateRun(room, token, { tool, inputs: [...inputs], params }, ac.signal)
        .then(setEstimate, () => { /* no estimate: the run still works */ })
    }, 150)
    return () => { window.clearTimeout(t); ac.abort() }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [room, token, key])
  return estimate
}
