// Running a tool from anywhere (the block toolbar, a context menu, the top-bar Tools menu,
// a failed block's badge): only the parameters the tool takes, the blocks' chosen model if
// it can do the run, output blocks made in this person's undoable transaction, and a
// message in words when the server refuses.
import { useCallback } from 'react'
import { useArbor } from '../hooks/useArbor'
import { useModels } from '../hooks/useModels'
import { ApiError, api } from '../api/client'
import { startJob } from '../api/jobs'
import { modelForRun, type ModelInfo } from '../api/models'
import { loadTools, outputCount, outputKind, paramsFor, takesParam, toolLabel, type Tool } from '../api/tools'
import { createOutputs, markOutputs, removeOutputs } from '../sync/runTool'
import type { Connection } from '../sync/connection'

interface JobRecord { tool: string; inputs: string[]; outputs: string[]; params: Record<string, unknown> }

/** The parameters a run sends: `values` limited to what the tool takes, plus the model
 * picked on the first input block that can do it (when the tool takes a model). */
export function runParams(tool: Tool, values: Record<string, unknown>, conn: Connection,
  inputs: readonly string[], models: readonly ModelInfo[]): Record<string, unknown> {
  const params = paramsFor(tool, values)
  if (takesParam(tool, 'model') && !params.model) {
    const blocks = inputs.map((id) => conn.blocks.get(id))
    const withImages = blocks.some((b) => b?.get('kind') === 'image')
    const model = modelForRun(blocks.map((b) => b?.get('model') as string | undefined), models, tool, withImages)
    if (model) params.model = model
  }
  return params
}

export interface ToolRunner {
  /** Runs `tool` on `inputs`; returns the new output blocks (selected), or [] if refused. */
  run: (tool: Tool, inputs: readonly string[], values?: Record<string, unknown>) => Promise<string[]>
  /** Runs the tool that made `blockId` again, with the same inputs and options, into it. */
  runAgain: (blockId: string) => Promise<void>
}

export function useToolRunner(selectOnly?: (ids: ReadonlySet<string>) => void): ToolRunner {
  const { conn, room, token, identity, notify } = useArbor()
  const { models } = useModels()

  const run = useCallback(async (tool: Tool, inputs: readonly string[], values: Record<string, unknown> = {}) => {
    const params = runParams(tool, values, conn, inputs, models)
    const outputs = createOutputs(conn, {
      tool: tool.name, inputs, kind: outputKind(tool), count: outputCount(tool), author: identity.id,
    })
    // The new outputs become the selection, so others watching this person's branch see them.
    selectOnly?.(new Set(outputs))
    try {
      const r = await startJob(room, token, {
        tool: tool.name, inputs: [...inputs], outputs, params, author: identity.name || identity.id,
      })
      markOutputs(conn, outputs.filter((id) => conn.blocks.get(id)?.get('jobId') == null), { jobId: r.job_id })
      return outputs
    } catch (e) {
      notify(`${tool.label} could not start: ${e instanceof ApiError ? e.friendly : 'unknown error'}`, 'error')
      removeOutputs(conn, outputs)
      return []
    }
  }, [conn, room, token, identity.id, identity.name, models, notify, selectOnly])

  const runAgain = useRunAgain()
  return { run, runAgain }
}

/** "Run again": the tool that made `blockId`, with the same inputs and options (read from
 * its job record), posted with this block as the only output, so it is remade in place. */
export function useRunAgain(): (blockId: string) => Promise<void> {
  const { conn, room, token, identity, notify } = useArbor()
  return useCallback(async (blockId: string) => {
    const block = conn.blocks.get(blockId)
    const jobId = block?.get('jobId')
    const name = String(block?.get('tool') ?? 'The tool')
    const label = toolLabel(name, await loadTools().catch(() => []))
    if (typeof jobId !== 'string') {
      notify(`${label} cannot run again: this block does not say how it was made.`, 'error')
      return
    }
    const fail = (why: string) => notify(`${label} could not run again: ${why}`, 'error')
    let job: JobRecord
    try {
      job = await api<JobRecord>(`/api/rooms/${encodeURIComponent(room)}/jobs/${encodeURIComponent(jobId)}`, { token })
    } catch (e) {
      fail(e instanceof ApiError && e.status === 404 ? 'the record of its run is gone' : e instanceof ApiError ? e.friendly : 'unknown error')
      return
    }
    try {
      // In place: the same tool, inputs and options, with this block as the only output.
      await startJob(room, token, {
        tool: job.tool, inputs: job.inputs, outputs: [blockId], params: job.params ?? {},
        author: identity.name || identity.id,
      })
    } catch (e) {
      fail(e instanceof ApiError ? (e.status === 404 ? 'a block it ran from is gone' : e.friendly) : 'unknown error')
    }
  }, [conn, room, token, identity.id, identity.name, notify])
}
