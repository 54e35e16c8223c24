import { useEffect, useRef, useState } from 'react'
import { copyText } from './copyText'

/** Share a page: the system share sheet (Web Share API) where the browser has one, else
 * the link is copied. A share the person cancels is not an error. */
export function ShareButton({ path, title, text }: { path: string; title: string; text?: string }) {
  const [note, setNote] = useState('')
  const timer = useRef<number | undefined>(undefined)
  useEffect(() => () => window.clearTimeout(timer.current), [])
  const url = new URL(path, window.location.origin).toString()

  function say(message: string) {
    setNote(message)
    window.clearTimeout(timer.current)
    timer.current = window.setTimeout(() => setNote(''), 2500)
  }

  async function share() {
    const data = { title, text, url }
    if (typeof navigator.share === 'function' && (navigator.canShare?.(data) ?? true)) {
      try {
        await navigator.share(data)
        return
      } catch (e) {
        if (e instanceof DOMException && e.name === 'AbortError') return
        // no share target here after all: copy instead
      }
    }
    say((await copyText(url)) ? 'Link copied' : `Copy this link: ${url}`)
  }

  return (
    <>
      <button type="button" onClick={share}>Share</button>
      <span role="status" className="share-note muted small">{note}</span>
    </>
  )
}
