import { useEffect, useState } from 'react'
import { listTools, type Tool } from '../api/tools'

/** The server's tools ([] while it offers none); `error` if they could not be loaded. */
export function useTools(): { tools: Tool[]; error: string | null } {
  const [tools, setTools] = useState<Tool[]>([])
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    const ac = new AbortController()
    listTools(ac.signal).then(setTools, (e: unknown) => {
      if (!ac.signal.aborted) setError(e instanceof Error ? e.message : 'tools unavailable')
    })
    return () => ac.abort()
  }, [])
  return { tools, error }
}
