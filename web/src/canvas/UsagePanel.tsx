// What this canvas has spent: today and in total, by person, tool and model, and today's
// budgets. Refreshes every few seconds while open.
import { useEffect, useState } from 'react'
import { useArbor } from '../hooks/useArbor'
import { formatUsd, getUsage, type Spend, type SpendGroup, type Usage } from '../api/models'
import { ApiError } from '../api/client'

const POLL_MS = 3000

function amount(s: Spend): string {
  const parts = [formatUsd(s.cost_usd)]
  if (s.images) parts.push(`${s.images} image${s.images === 1 ? '' : 's'}`)
  const tokens = s.input_tokens + s.output_tokens
  if (tokens) parts.push(`${tokens.toLocaleString()} tokens`)
  return parts.join(' · ')
}

function Table({ title, rows, by }: { title: string; rows: SpendGroup[]; by: 'person' | 'tool' | 'model' }) {
  if (!rows.length) return null
  return (
    <table className="usage-table">
      <caption>{title}</caption>
      <thead><tr><th scope="col">{by}</th><th scope="col">Today</th><th scope="col">Total</th></tr></thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r[by] ?? ''}>
            <th scope="row">{r[by] || (by === 'person' ? 'someone' : '—')}</th>
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
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') onClose() }
    window.addEventListener('keydown', onKey)
    return () => { ac.abort(); window.clearInterval(t); window.removeEventListener('keydown', onKey) }
  }, [room, token, onClose])

  const budgets = usage ? Object.entries(usage.budget) : []
  return (
    <div className="modal-backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget) onClose() }}>
      <div className="modal wide usage-panel" role="dialog" aria-modal="true" aria-labelledby="usage-h">
        <h2 id="usage-h">Spend of this canvas</h2>
        {error && <p role="alert" className="error">{error}</p>}
        {!usage ? <p className="muted" role="status">Loading…</p> : (
          <>
            <p className="usage-summary">
              Today: <strong data-testid="spend-today">{amount(usage.today)}</strong>
              {' · '}In total: <strong data-testid="spend-total">{amount(usage.total)}</strong>
              {' '}<span className="muted small">({usage.total.jobs} run{usage.total.jobs === 1 ? '' : 's'}; costs are estimates from the price table)</span>
            </p>
            {budgets.length > 0 && (
              <p className="muted small">Today's budget: {budgets.map(([k, b]) => k === 'usd'
                ? `${formatUsd(b!.used)} of ${formatUsd(b!.limit)}`
                : `${b!.used.toLocaleString()} of ${b!.limit.toLocaleString()} ${k}`).join(' · ')} (resets 00:00 UTC)</p>
            )}
            <Table title="By person" rows={usage.by_person} by="person" />
            <Table title="By tool" rows={usage.by_tool} by="tool" />
            <Table title="By model" rows={usage.by_model} by="model" />
          </>
        )}
        <div className="row end"><button autoFocus onClick={onClose}>Close</button></div>
      </div>
    </div>
  )
}
