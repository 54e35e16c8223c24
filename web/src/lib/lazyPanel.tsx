// Panels of the canvas (queue, history, spend, keys) load in chunks of their own when first
// opened: the canvas page's first load carries only what draws the canvas.
import { Component, lazy, Suspense, type ComponentType, type ReactNode } from 'react'

/** A panel component from `load`, shown as "Loading…" while its chunk arrives. If the chunk
 * cannot be fetched (offline, or a deploy replaced it), the panel says so with a way to try
 * again; the canvas around it keeps working. */
export function lazyPanel<P extends object>(
  load: () => Promise<ComponentType<P>>,
): ComponentType<P> {
  const make = () => lazy(async () => ({ default: await load() }))
  let Lazy = make()
  return function Panel(props: P) {
    return (
      <PanelLoadBoundary onRetry={() => { Lazy = make() }}>
        <Suspense fallback={<section className="side-panel" aria-busy="true"><p>Loading…</p></section>}>
          <Lazy {...props} />
        </Suspense>
      </PanelLoadBoundary>
    )
  }
}

class PanelLoadBoundary extends Component<
  { children: ReactNode; onRetry: () => void }, { failed: boolean }> {
  state = { failed: false }

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true }
  }

  render() {
    if (!this.state.failed) return this.props.children
    return (
      <section className="side-panel">
        <p role="alert">This panel could not load: the connection may be down, or the server
          was updated.</p>
        <p><button onClick={() => { this.props.onRetry(); this.setState({ failed: false }) }}>
          Try again</button></p>
      </section>
    )
  }
}
