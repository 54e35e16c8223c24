import { useEffect, useState } from 'react'
import { cachedTools, loadTools, type Tool } from '../api/tools'

/** The server's tools ([] while it offers none); `error` if they could not be loaded. One
 * request per page, shared by every badge, toolbar and menu. */
export function useTools(): { tools: Tool[]; error: string | null } {
  const [tools, setTools] = useState<Tool[]>(cachedTools)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    loadTools().then((t) => { if (live) setTools(t) }, (e: unknown) => {
      if (live) setError(e instanceof Error ? e.message : 'tools unavailable')
    })
    return () => { live = false }
  }, [])
  return { tools, error }
}
