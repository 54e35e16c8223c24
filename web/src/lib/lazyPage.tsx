// Pages load in chunks of their own, on first use: the home page does not wait for the
// canvas editor (React Flow, CodeMirror, Yjs), nor a canvas for the gallery.
import { Component, useEffect, useState, type ComponentType, type ReactNode } from 'react'

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
 * the same address is shown, with a button to try again.
 *
 * Not React.lazy + Suspense: React holds back content that resolves a Suspense fallback
 * until 300 ms after the fallback appeared, so every page opened through one waited that
 * long before it could even start its own requests. A state update shows it at once. */
export function lazyPage<P extends object>(
  load: () => Promise<ComponentType<P>>,
): ComponentType<P> {
  let page: ComponentType<P> | null = null
  let pending: Promise<ComponentType<P>> | null = null
  const fetchPage = (): Promise<ComponentType<P>> => {
    pending ??= (async () => {
      try {
        const loaded = await load()
        remember(null)
        page = loaded
        return loaded
      } catch (err) {
        const before = remembered()
        if (before !== undefined && before !== window.location.href
            && remember(window.location.href)) {
          window.location.reload()
          return await new Promise<never>(() => {}) // the reload replaces this page
        }
        pending = null // a later visit may try again
        throw err
      }
    })()
    return pending
  }

  function Loader(props: P) {
    // Asked for during the first render, not after it is painted: no frame lost.
    const [Page, setPage] = useState<ComponentType<P> | null>(() => {
      if (!page) fetchPage().catch(() => {}) // the effect below shows a failure
      return page
    })
    const [failure, setFailure] = useState<{ error: unknown } | null>(null)
    useEffect(() => {
      if (Page) return
      let live = true
      fetchPage().then((p) => { if (live) setPage(() => p) },
        (error: unknown) => { if (live) setFailure({ error }) })
      return () => { live = false }
    }, [Page])
    if (failure) throw failure.error // shown by PageLoadBoundary
    if (!Page) return <main className="page narrow" aria-busy="true"><p>Loading…</p></main>
    return <Page {...props} />
  }

  return function LazyPage(props: P) {
    return (
      <PageLoadBoundary>
        <Loader {...props} />
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
