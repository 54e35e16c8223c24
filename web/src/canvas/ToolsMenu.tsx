import { useEffect, useRef, useState, type FormEvent } from 'react'
import { useReactFlow } from '@xyflow/react'
import { useArbor } from '../hooks/useArbor'
import { useTools } from '../hooks/useTools'
import { outputCount, outputKind, toolAccepts, type Tool, type ToolParam } from '../api/tools'
import { startJob } from '../api/jobs'
import { ApiError } from '../api/client'
import type { ArborEdge, ArborNode } from '../sync/bindings'
import { createOutputs, markOutputs, removeOutputs } from '../sync/runTool'
import { useModels } from '../hooks/useModels'
import { useEstimate } from '../hooks/useEstimate'
import { modelForRun } from '../api/models'

function ParamField({ p, value, onChange }: { p: ToolParam; value: unknown; onChange: (v: unknown) => void }) {
  const id = `param-${p.name}`
  const label = p.label ?? p.name
  if (Array.isArray(p.choices) && p.choices.length) {
    return (
      <label htmlFor={id}>{label}
        <select id={id} value={String(value ?? '')} onChange={(e) => onChange(e.target.value)}>
          {p.choices.map((c) => <option key={String(c)} value={String(c)}>{String(c)}</option>)}
        </select>
      </label>
    )
  }
  const numeric = ['number', 'integer', 'int', 'float'].includes(p.type ?? '') || typeof p.default === 'number'
  const integer = p.type === 'int' || p.type === 'integer'
  return (
    <label htmlFor={id}>{label}
      <input id={id} type={numeric ? 'number' : 'text'} min={numeric ? p.min : undefined} max={numeric ? p.max : undefined}
        maxLength={!numeric && p.max ? p.max : undefined} step={numeric ? (integer ? 1 : 0.1) : undefined}
        value={String(value ?? '')}
        onChange={(e) => onChange(numeric ? Number(e.target.value) : e.target.value)} />
      {p.description && <span className="muted small">{p.description}</span>}
    </label>
  )
}

/** What a run would use and cost, from the server's price table. */
function Estimate({ tool, inputs, params }: { tool: Tool; inputs: string[]; params: Record<string, unknown> }) {
  const e = useEstimate(tool.name, inputs, params)
  return <span data-testid="estimate">{e ? `${tool.label}: ${e.text}` : 'Estimating…'}</span>
}

/** The server's tools, for the selected blocks. */
export function ToolsMenu({ selectOnly }: { selectOnly: (ids: ReadonlySet<string>) => void }) {
  const { conn, room, token, identity, notify } = useArbor()
  const flow = useReactFlow<ArborNode, ArborEdge>()
  const { tools, error } = useTools()
  const [open, setOpen] = useState(false)
  const [chosen, setChosen] = useState<Tool | null>(null)
  const [params, setParams] = useState<Record<string, unknown>>({})
  const box = useRef<HTMLDivElement>(null)
  const { models } = useModels()
  const [hovered, setHovered] = useState<Tool | null>(null)

  useEffect(() => {
    if (!open) return
    const close = (e: MouseEvent) => { if (!box.current?.contains(e.target as Node)) { setOpen(false); setChosen(null) } }
    const esc = (e: KeyboardEvent) => { if (e.key === 'Escape') { setOpen(false); setChosen(null) } }
    window.addEventListener('mousedown', close)
    window.addEventListener('keydown', esc)
    return () => { window.removeEventListener('mousedown', close); window.removeEventListener('keydown', esc) }
  }, [open])

  if (tools.length === 0) {
    return <button disabled title={error ? `Tools unavailable: ${error}` : 'This server offers no tools yet'}>Tools</button>
  }
  const selected = open ? flow.getNodes().filter((n) => n.selected) : []
  const kinds = selected.map((n) => n.data.kind)
  // The model a run uses: the first selected block's choice that can do the tool.
  const withModel = (tool: Tool, values: Record<string, unknown>): Record<string, unknown> => {
    const model = values.model ? undefined : modelForRun(selected.map((n) => n.data.model), models, tool, kinds.includes('image'))
    return model ? { ...values, model } : values
  }
  const shown = chosen ?? hovered
  const estimateParams = shown ? withModel(shown, chosen ? params : {}) : {}

  async function run(tool: Tool, values: Record<string, unknown>) {
    setOpen(false)
    setChosen(null)
    const inputs = selected.map((n) => n.id)
    const outputs = createOutputs(conn, { tool: tool.name, inputs, kind: outputKind(tool), count: outputCount(tool), author: identity.id })
    // The new outputs become the selection, so others watching this person's branch see them.
    selectOnly(new Set(outputs))
    try {
      const r = await startJob(room, token, { tool: tool.name, inputs, outputs, params: withModel(tool, values), author: identity.name || identity.id })
      markOutputs(conn, outputs.filter((id) => conn.blocks.get(id)?.get('jobId') == null), { jobId: r.job_id })
    } catch (e) {
      const why = e instanceof ApiError ? e.friendly : 'unknown error'
      notify(`${tool.label} could not start: ${why}`, 'error')
      removeOutputs(conn, outputs)
    }
  }

  function options(tool: Tool) {
    setParams(Object.fromEntries(tool.params.map((p) => [p.name, p.default ?? ''])))
    setChosen(tool)
  }

  return (
    <div className="menu-wrap" ref={box}>
      <button aria-haspopup="menu" aria-expanded={open} onClick={() => { setOpen(!open); setChosen(null) }}>Tools ▾</button>
      {open && !chosen && (
        <ul className="menu" role="menu" aria-label="Tools">
          {tools.map((t) => {
            const ok = toolAccepts(t, kinds)
            const need = t.inputs ? `${t.inputs.min}${t.inputs.max !== t.inputs.min ? `–${t.inputs.max}` : ''} ${(t.inputs.kinds ?? []).join('/') || 'block'}` : ''
            return (
              <li key={t.name} role="none" className="menu-row">
                <button role="menuitem" disabled={!ok} onClick={() => void run(t, {})}
                  onMouseEnter={() => ok && setHovered(t)} onFocus={() => ok && setHovered(t)}
                  title={ok ? t.description ?? t.label : `Select ${need} block(s) first`}>
                  <span>{t.label}</span>
                  <span className="muted small">{need}</span>
                </button>
                {t.params?.length > 0 && (
                  <button role="menuitem" className="options" disabled={!ok} onClick={() => options(t)}
                    aria-label={`${t.label} with options`} title="Run with options">⚙</button>
                )}
              </li>
            )
          })}
          <li role="none" className="muted small estimate" aria-live="polite">{hovered ? <Estimate tool={hovered} inputs={selected.map((n) => n.id)} params={estimateParams} /> : 'Point at a tool to see what it costs'}</li>
        </ul>
      )}
      {open && chosen && (
        <form className="menu param-form" onSubmit={(e: FormEvent) => { e.preventDefault(); void run(chosen, params) }}>
          <strong>{chosen.label}</strong>
          {chosen.description && <span className="muted small">{chosen.description}</span>}
          {chosen.params.map((p) => (
            <ParamField key={p.name} p={p} value={params[p.name]} onChange={(v) => setParams({ ...params, [p.name]: v })} />
          ))}
          <p className="muted small estimate" aria-live="polite"><Estimate tool={chosen} inputs={selected.map((n) => n.id)} params={estimateParams} /></p>
          <div className="row end">
            <button type="button" onClick={() => setChosen(null)}>Back</button>
            <button className="primary" type="submit">Run</button>
          </div>
        </form>
      )}
    </div>
  )
}
