import { useEffect, useRef, useState, type FormEvent } from 'react'
import { useReactFlow } from '@xyflow/react'
import { useArbor } from '../hooks/useArbor'
import { useTools } from '../hooks/useTools'
import { whyNot, type Tool, type ToolParam } from '../api/tools'
import type { ArborEdge, ArborNode } from '../sync/bindings'
import { useModels } from '../hooks/useModels'
import { useEstimate } from '../hooks/useEstimate'
import { runParams, useToolRunner } from './useToolRunner'
import { readFacts, type SelectedBlock } from './useSelectionFacts'

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

/** The server's tools, for the selected blocks (with options; each block also has its own
 * toolbar). A tool that cannot run on the selection says why. */
export function ToolsMenu({ selectOnly }: { selectOnly: (ids: ReadonlySet<string>) => void }) {
  const { conn } = useArbor()
  const flow = useReactFlow<ArborNode, ArborEdge>()
  const { tools, error } = useTools()
  const [open, setOpen] = useState(false)
  const [chosen, setChosen] = useState<Tool | null>(null)
  const [params, setParams] = useState<Record<string, unknown>>({})
  const box = useRef<HTMLDivElement>(null)
  const { models } = useModels()
  const [hovered, setHovered] = useState<Tool | null>(null)
  const runner = useToolRunner(selectOnly)

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
  const inputs = open ? flow.getNodes().filter((n) => n.selected).map((n) => n.id) : []
  const facts = inputs.map((id) => readFacts(conn, id)).filter((f): f is SelectedBlock => f != null)
  const shown = chosen ?? hovered
  const estimateParams = shown ? runParams(shown, chosen ? params : {}, conn, inputs, models) : {}

  function run(tool: Tool, values: Record<string, unknown>) {
    setOpen(false)
    setChosen(null)
    void runner.run(tool, inputs, values)
  }

  function options(tool: Tool) {
    setParams(Object.fromEntries(tool.params.map((p) => [p.name, p.default ?? ''])))
    setChosen(tool)
  }

  return (
    <div className="menu-wrap" ref={box}>
      <button aria-haspopup="menu" aria-expanded={open} onClick={() => { setOpen(!open); setChosen(null) }}>Tools ▾</button>
      {open && !chosen && (
        <div className="menu tools-menu">
        <ul className="menu-items" role="menu" aria-label="Tools">
          {tools.map((t) => {
            const why = whyNot(t, facts)
            const need = t.inputs ? `${t.inputs.min}${t.inputs.max !== t.inputs.min ? `–${t.inputs.max}` : ''} ${(t.inputs.kinds ?? []).join('/') || 'block'}` : ''
            return (
              <li key={t.name} role="none" className="menu-row">
                <button role="menuitem" aria-disabled={why ? true : undefined} onClick={() => { if (!why) run(t, {}) }}
                  onMouseEnter={() => !why && setHovered(t)} onFocus={() => !why && setHovered(t)}
                  title={why ?? t.description ?? t.label}>
                  <span>{t.label}</span>
                  <span className="muted small">{why ?? need}</span>
                </button>
                {t.params?.length > 0 && (
                  <button role="menuitem" className="options" aria-disabled={why ? true : undefined}
                    onClick={() => { if (!why) options(t) }}
                    aria-label={`${t.label} with options`} title={why ?? 'Run with options'}>⚙</button>
                )}
              </li>
            )
          })}
        </ul>
        {/* Beside the menu, not in it: a menu holds only its items. */}
        <p className="muted small estimate" aria-live="polite">{hovered ? <Estimate tool={hovered} inputs={inputs} params={estimateParams} /> : 'Point at a tool to see what it costs'}</p>
        </div>
      )}
      {open && chosen && (
        <form className="menu param-form" onSubmit={(e: FormEvent) => { e.preventDefault(); run(chosen, params) }}>
          <strong>{chosen.label}</strong>
          {chosen.description && <span className="muted small">{chosen.description}</span>}
          {chosen.params.map((p) => (
            <ParamField key={p.name} p={p} value={params[p.name]} onChange={(v) => setParams({ ...params, [p.name]: v })} />
          ))}
          <p className="muted small estimate" aria-live="polite"><Estimate tool={chosen} inputs={inputs} params={estimateParams} /></p>
          <div className="row end">
            <button type="button" onClick={() => setChosen(null)}>Back</button>
            <button className="primary" type="submit">Run</button>
          </div>
        </form>
      )}
    </div>
  )
}
