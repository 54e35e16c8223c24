// The canvas's own API keys (edit link only): set, replace or remove; the server never
// shows a key again, only its last four characters.
import { useEffect, useState, type FormEvent } from 'react'
import { useArbor } from '../hooks/useArbor'
import { refreshModels } from '../hooks/useModels'
import { deleteKey, getKeys, putKey, type KeyProvider, type Keys } from '../api/models'
import { ApiError } from '../api/client'

const PROVIDERS: { id: KeyProvider; label: string; baseUrl: boolean }[] = [
  { id: 'openai', label: 'OpenAI (or an OpenAI-compatible endpoint)', baseUrl: true },
  { id: 'gemini', label: 'Gemini', baseUrl: false },
]

function ProviderKey({ p, state, onChange }: { p: typeof PROVIDERS[number]; state: Keys[KeyProvider] | undefined; onChange: (k: Keys | null) => void }) {
  const { room, token, notify } = useArbor()
  const [key, setKey] = useState('')
  const [url, setUrl] = useState(state?.base_url ?? '')
  const [busy, setBusy] = useState(false)

  async function save(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    try {
      onChange(await putKey(room, token, p.id, key.trim(), p.baseUrl ? url.trim() : undefined))
      setKey('')
      refreshModels(room)
      notify(`The ${p.id === 'openai' ? 'OpenAI' : 'Gemini'} key of this canvas is saved.`)
    } catch (err) {
      notify(err instanceof ApiError ? `The key was not saved: ${err.friendly}` : 'The key was not saved.', 'error')
    } finally {
      setBusy(false)
    }
  }

  async function remove() {
    setBusy(true)
    try {
      await deleteKey(room, token, p.id)
      onChange(null)
      refreshModels(room)
    } catch (err) {
      notify(err instanceof ApiError ? `The key was not removed: ${err.friendly}` : 'The key was not removed.', 'error')
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="key-form" onSubmit={save} aria-labelledby={`key-h-${p.id}`}>
      <h3 id={`key-h-${p.id}`}>{p.label}</h3>
      <p className="muted small" data-testid={`key-state-${p.id}`}>
        {state?.set ? `A key ending in …${state.last4} is set${state.base_url ? ` (${state.base_url})` : ''}.` : 'No key: runs use this server’s.'}
      </p>
      <label htmlFor={`key-${p.id}`}>{state?.set ? 'Replace with' : 'API key'}
        <input id={`key-${p.id}`} type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} />
      </label>
      {p.baseUrl && (
        <label htmlFor={`url-${p.id}`}>Base URL (optional)
          <input id={`url-${p.id}`} type="url" placeholder="https://api.openai.com/v1" value={url} onChange={(e) => setUrl(e.target.value)} />
        </label>
      )}
      <div className="row">
        <button className="primary" type="submit" disabled={busy || !key.trim()}>Save key</button>
        {state?.set && <button type="button" className="danger" disabled={busy} onClick={remove}>Remove</button>}
      </div>
    </form>
  )
}

export function KeysDialog({ onClose }: { onClose: () => void }) {
  const { room, token } = useArbor()
  const [keys, setKeys] = useState<Keys | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [tick, setTick] = useState(0)

  useEffect(() => {
    const ac = new AbortController()
    getKeys(room, token, ac.signal).then(setKeys, (e: unknown) => {
      if (!ac.signal.aborted) setError(e instanceof ApiError ? e.friendly : 'Keys could not be loaded.')
    })
    return () => ac.abort()
  }, [room, token, tick])

  return (
    <section className="side-panel keys-panel" aria-labelledby="keys-h">
      <div className="panel-head">
        <h2 id="keys-h">This canvas’s API keys</h2>
        <button className="ghost small" onClick={onClose} aria-label="Close the keys panel">×</button>
      </div>
      <p className="muted small">Runs of this canvas use its own key instead of the server’s. Keys are stored encrypted and never shown again.</p>
      {error && <p role="alert" className="error-text small">{error}</p>}
      {!keys && !error && <p className="muted small" role="status">Loading…</p>}
      {keys && PROVIDERS.map((p) => (
        <ProviderKey key={p.id} p={p} state={keys[p.id]}
          onChange={(k) => (k ? setKeys(k) : setTick((t) => t + 1))} />
      ))}
    </section>
  )
}
