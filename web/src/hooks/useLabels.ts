import { useCallback, useEffect, useState } from 'react'
import { humanize } from '../lib/labels'
import { listTools, type Tool } from '../api/tools'
import { useModels } from './useModels'

// One fetch of the tool catalog per page, shared by every label (a badge on each block).
let toolsOnce: Promise<Tool[]> | null = null
function loadTools(): Promise<Tool[]> {
  if (!toolsOnce) {
    toolsOnce = listTools()
    toolsOnce.catch(() => { toolsOnce = null })
  }
  return toolsOnce
}

/** A tool's label ("Generate image") and a model's whole name ("Offline text (no model)")
 * from the server's catalogs, with a readable fallback while they load. */
export function useLabels(): {
  tool: (name: string | null | undefined) => string
  model: (id: string | null | undefined) => string
} {
  const [tools, setTools] = useState<Tool[]>([])
  const { models } = useModels()
  useEffect(() => {
    let live = true
    loadTools().then((t) => { if (live) setTools(t) }, () => { /* fallback words stay */ })
    return () => { live = false }
  }, [])
  const tool = useCallback((name: string | null | undefined) =>
    tools.find((t) => t.name === name)?.label ?? humanize(name), [tools])
  const model = useCallback((id: string | null | undefined) =>
    models.find((m) => m.id === id)?.label ?? humanize(id), [models])
  return { tool, model }
}
