// A menu at a point (right-click, a dropped connection, the block toolbar's "More"):
// role menu, arrow keys and Home/End move, Enter or Space chooses, Esc or Tab closes, and
// focus goes back where it was. An item that cannot run says why, visibly and to screen
// readers, and is aria-disabled (still focusable, so a keyboard reaches the reason).
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react'
import { createPortal } from 'react-dom'
import './blockTools.css'

export interface MenuItem {
  label: string
  onSelect: () => void
  /** Why it cannot be chosen now (shown beside it); absent when it can. */
  disabled?: string | null
  /** A line above this item. */
  separator?: boolean
  /** Short extra words shown muted (e.g. a shortcut). */
  hint?: string
}

export function ContextMenu({ x, y, label, items, onClose }: {
  x: number; y: number; label: string; items: MenuItem[]; onClose: () => void
}) {
  const box = useRef<HTMLUListElement>(null)
  const [at, setAt] = useState({ left: x, top: y })
  const back = useRef<Element | null>(null)

  // Keep the menu on screen, then focus its first item; give focus back on close.
  useLayoutEffect(() => {
    back.current = document.activeElement
    const r = box.current?.getBoundingClientRect()
    if (r) {
      setAt({
        left: Math.max(4, Math.min(x, window.innerWidth - r.width - 4)),
        top: Math.max(4, Math.min(y, window.innerHeight - r.height - 4)),
      })
    }
    box.current?.querySelector<HTMLElement>('[role=menuitem]')?.focus()
    return () => {
      const el = back.current
      if (el instanceof HTMLElement && el.isConnected) el.focus()
    }
  }, [x, y])

  useEffect(() => {
    const away = (e: Event) => { if (!box.current?.contains(e.target as Node)) onClose() }
    window.addEventListener('pointerdown', away, true)
    window.addEventListener('wheel', away, { capture: true, passive: true })
    window.addEventListener('blur', onClose)
    return () => {
      window.removeEventListener('pointerdown', away, true)
      window.removeEventListener('wheel', away, true)
      window.removeEventListener('blur', onClose)
    }
  }, [onClose])

  function onKeyDown(e: KeyboardEvent) {
    const all = Array.from(box.current?.querySelectorAll<HTMLElement>('[role=menuitem]') ?? [])
    const i = all.indexOf(document.activeElement as HTMLElement)
    const go = (n: number) => { e.preventDefault(); all[(n + all.length) % all.length]?.focus() }
    if (e.key === 'ArrowDown') go(i + 1)
    else if (e.key === 'ArrowUp') go(i - 1)
    else if (e.key === 'Home') go(0)
    else if (e.key === 'End') go(all.length - 1)
    else if (e.key === 'Escape' || e.key === 'Tab') { e.preventDefault(); onClose() }
    else return
    e.stopPropagation()
  }

  return createPortal(
    <ul ref={box} className="context-menu" role="menu" aria-label={label} style={at}
      onKeyDown={onKeyDown} onContextMenu={(e) => e.preventDefault()}>
      {items.map((it, n) => (
        <li key={`${n}-${it.label}`} role="none" className={it.separator ? 'sep-above' : undefined}>
          <button role="menuitem" aria-disabled={it.disabled ? true : undefined}
            aria-describedby={it.disabled ? `menu-why-${n}` : undefined}
            onClick={() => { if (!it.disabled) { onClose(); it.onSelect() } }}>
            <span>{it.label}</span>
            {it.disabled && <span id={`menu-why-${n}`} className="why">{it.disabled}</span>}
            {!it.disabled && it.hint && <span className="hint" aria-hidden="true">{it.hint}</span>}
          </button>
        </li>
      ))}
    </ul>,
    document.body,
  )
}
