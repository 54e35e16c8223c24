import { useEffect, useRef, useState } from 'react'
import { copyText } from './copyText'

/** A small button that copies `text` and says so for a moment ("Copied"), in a live region. */
export function CopyButton({ text, label, ariaLabel, done = 'Copied' }: {
  text: string
  label: string
  ariaLabel?: string
  done?: string
}) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle')
  const timer = useRef<number | undefined>(undefined)
  useEffect(() => () => window.clearTimeout(timer.current), [])
  async function copy() {
    setState((await copyText(text)) ? 'copied' : 'failed')
    window.clearTimeout(timer.current)
    timer.current = window.setTimeout(() => setState('idle'), 2000)
  }
  return (
    <span className="copy-button">
      <button type="button" className="small" onClick={copy} aria-label={ariaLabel}>{label}</button>
      <span role="status" className="copy-note muted small">
        {state === 'copied' ? done : state === 'failed' ? 'Could not copy: select the text instead' : ''}
      </span>
    </span>
  )
}
