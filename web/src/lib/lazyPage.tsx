// Pages load in chunks of their own, on first use: the home page does not wait for the
// canvas editor (React Flow, CodeMirror, Yjs), nor a canvas for the gallery.
import { Component, lazy, Suspense, type ComponentType, type ReactNode } from 'react'

const RELOADED = 'arbor:reloaded-for'

// Session storage can be switched off (or full): then a failed chunk is shown, not retried.
function remembered(): string | null | undefined {
  try {
    return sessionStorage.getItem(RELOADED)
  } catch {
    return undefined
  }
}

function remember(value: string | null): boolean {
  try {
    if (value == null) sessionStorage.removeItem(RELOADED)
    else sessionStorage.setItem(RELOADED, value)
    return true
  } catch {
    return false
  }
}

/** A page component from `load`. If its chunk cannot be fetched (a deploy replaced it while
 * this tab was open), the page reloads once to get the current app; a second failure on
 * the same address is shown, with a button to try again. */
export function lazyPage<P extends object>(
  load: () => Promise<ComponentType<P>>,
): ComponentType<P> {
  const Lazy = lazy(async () => {
    try {
      const page = await load()
      remember(null)
      return { default: page }
    } catch (err) {
      const before = remembered()
      if (before !== undefined && before !== window.location.href
          && remember(window.location.href)) {
        window.location.reload()
        return await new Promise<never>(() => {}) // the reload replaces this page
      }
      throw err
    }
  })
  return function Page(props: P) {
    return (
      <PageLoadBoundary>
        <Suspense fallback={<main className="page narrow" aria-busy="true"><p>Loading…</p></main>}>
          <Lazy {...props} />
        </Suspense>
      </PageLoadBoundary>
    )
  }
}

class PageLoadBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  state = { failed: false }

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true }
  }

  render() {
    if (!this.state.failed) return this.props.children
    return (
      <main className="page narrow">
        <h1>This page could not load</h1>
        <p role="alert">Part of the app could not be fetched: the connection may be down, or
          the server was updated. Check the connection and try again.</p>
        <p><button onClick={() => { remember(null); window.location.reload() }}>
          Try again</button></p>
      </main>
    )
  }
}
