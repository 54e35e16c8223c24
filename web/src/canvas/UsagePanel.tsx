// What this canvas has spent: today and in total, by person, tool and model, and today's
// budgets. Refreshes every few seconds while open.
import { useEffect, useState } from 'react'
import { useArbor } from '../hooks/useArbor'
import { useLabels } from '../hooks/useLabels'
import { formatUsd, getUsage, type Spend, type SpendGroup, type Usage } from '../api/models'
import { ApiError } from '../api/client'
import { peopleLabels } from '../lib/labels'

const POLL_MS = 3000

function amount(s: Spend): string {
  const parts = [formatUsd(s.cost_usd)]
  if (s.images) parts.push(`${s.images} image${s.images === 1 ? '' : 's'}`)
  const tokens = s.input_tokens + s.output_tokens
  if (tokens) parts.push(`${tokens.toLocaleString()} tokens`)
  return parts.join(' · ')
}

const HEAD = { person: 'Person', tool: 'Tool', model: 'Model' }

function Table({ title, rows, by, word }: {
  title: string; rows: SpendGroup[]; by: 'person' | 'tool' | 'model'; word: (id: string) => string
}) {
  if (!rows.length) return null
  return (
    <table className="usage-table">
      <caption>{title}</caption>
      <thead><tr><th scope="col">{HEAD[by]}</th><th scope="col">Today</th><th scope="col">Total</th></tr></thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r[by] ?? ''}>
            <th scope="row">{r[by] ? word(r[by]!) : (by === 'person' ? 'Someone' : '—')}</th>
            <td>{amount(r.today)}</td>
            <td>{amount(r.total)} ({r.total.jobs} run{r.total.jobs === 1 ? '' : 's'})</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

export function UsagePanel({ onClose }: { onClose: () => void }) {
  const { room, token } = useArbor()
  const [usage, setUsage] = useState<Usage | null>(null)
  const [error, setError] = useState<string | null>(null)
  const labels = useLabels()
  // "Arbor" (the server's own name) reads "Tool runs"; a person's name stays theirs.
  const person = (name: string) => { const w = peopleLabels([name])[0] ?? 'Someone'; return w[0].toUpperCase() + w.slice(1) }

  useEffect(() => {
    let ac = new AbortController()
    const load = () => {
      ac.abort()
      ac = new AbortController()
      getUsage(room, token, ac.signal).then((u) => { setUsage(u); setError(null) }, (e: unknown) => {
        if (!ac.signal.aborted) setError(e instanceof ApiError ? e.friendly : 'Spend could not be loaded.')
      })
    }
    load()
    const t = window.setInterval(load, POLL_MS)
    return () => { ac.abort(); window.clearInterval(t) }
  }, [room, token])

  const budgets = usage ? Object.entries(usage.budget) : []
  return (
    <section className="side-panel usage-panel" aria-labelledby="usage-h">
      <div className="panel-head">
        <h2 id="usage-h">Spend of this canvas</h2>
        <button className="ghost small" onClick={onClose} aria-label="Close the spend panel">×</button>
      </div>
      {error && <p role="alert" className="error-text small">{error}</p>}
      {!usage ? <p className="muted" role="status">Loading…</p> : (
        <>
          <p className="usage-summary">
            Today: <strong data-testid="spend-today">{amount(usage.today)}</strong>
            {' · '}In total: <strong data-testid="spend-total">{amount(usage.total)}</strong>
            {' '}<span className="muted small">({usage.total.jobs} run{usage.total.jobs === 1 ? '' : 's'}; costs are estimates from the price table)</span>
          </p>
          {budgets.length > 0 && (
            <p className="muted small">Today’s budget: {budgets.map(([k, b]) => k === 'usd'
              ? `${formatUsd(b!.used)} of ${formatUsd(b!.limit)}`
              : `${b!.used.toLocaleString()} of ${b!.limit.toLocaleString()} ${k}`).join(' · ')} (resets 00:00 UTC)</p>
          )}
          <Table title="By person" rows={usage.by_person} by="person" word={person} />
          <Table title="By tool" rows={usage.by_tool} by="tool" word={labels.tool} />
          <Table title="By model" rows={usage.by_model} by="model" word={labels.model} />
        </>
      )}
    </section>
  )
}
