// CodeMirror (the block text editor) is about a third of the canvas's script and is needed
// only once someone edits a block: it comes in a chunk of its own. An edit link fetches it
// when the page is idle after opening (so a double-click finds it ready); a view link never.
import { useEffect, useState, type ComponentProps, type ComponentType } from 'react'
import type { TextEditor as Editor } from './TextEditor'

type Props = ComponentProps<typeof Editor>

let loaded: ComponentType<Props> | null = null
let loading: Promise<ComponentType<Props>> | null = null

/** The editor's chunk, fetched once (again after a failure). */
export function loadTextEditor(): Promise<ComponentType<Props>> {
  loading ??= import('./TextEditor').then(
    (m) => (loaded = m.TextEditor),
    (err: unknown) => { loading = null; throw err },
  )
  return loading
}

/** Fetch the editor soon, without competing with the canvas's first paint. */
export function preloadTextEditor(): void {
  const load = () => { loadTextEditor().catch(() => {}) } // tried again when needed
  if ('requestIdleCallback' in window) window.requestIdleCallback(load, { timeout: 2000 })
  else setTimeout(load, 500)
}

/** The block text editor; an empty editor frame for the moment its chunk is on its way, or
 * a way to try again if it could not be fetched (Escape leaves, as in the editor). */
export function TextEditor(props: Props) {
  const [Ready, setReady] = useState<ComponentType<Props> | null>(() => loaded)
  const [failed, setFailed] = useState(false)
  const [attempt, setAttempt] = useState(0)
  useEffect(() => {
    if (Ready) return
    let live = true
    loadTextEditor().then((E) => { if (live) setReady(() => E) },
      () => { if (live) setFailed(true) })
    return () => { live = false }
  }, [Ready, attempt])
  if (Ready) return <Ready {...props} />
  return (
    <div className="editor nodrag nowheel nopan" aria-busy={!failed}
      onKeyDown={(e) => { e.stopPropagation(); if (e.key === 'Escape') props.onExit() }}>
      {failed && <p role="alert">The editor could not load: check the connection.{' '}
        <button className="small" onClick={() => { setFailed(false); setAttempt((n) => n + 1) }}>
          Try again</button></p>}
    </div>
  )
}
