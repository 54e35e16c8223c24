// The top bar's one menu on a phone: adding blocks, undo and redo, fitting the view, the
// side panels and sharing, which do not fit beside the title there. Hidden (topbar.css) at
// wider sizes, where each has its own button.
import { useEffect, useRef, useState, type KeyboardEvent } from 'react'
import type { BlockKind } from '../sync/schema'
import { railEntries, type PanelId } from './SideRail'
import { Icon } from './icons'

export function CanvasMenu({ readOnly, addBlock, undo, redo, canUndo, canRedo, fit, panel, onPanel, activeJobs, onShare }: {
  readOnly: boolean
  addBlock: (kind: BlockKind) => string | null
  undo: () => void
  redo: () => void
  canUndo: boolean
  canRedo: boolean
  fit: () => void
  panel: PanelId | null
  onPanel: (id: PanelId | null) => void
  activeJobs: number
  onShare: () => void
}) {
  const [open, setOpen] = useState(false)
  const box = useRef<HTMLDivElement>(null)
  const button = useRef<HTMLButtonElement>(null)
  const list = useRef<HTMLUListElement>(null)

  useEffect(() => {
    if (!open) return
    list.current?.querySelector<HTMLElement>('[role=menuitem]:not(:disabled)')?.focus()
    const close = (e: PointerEvent) => { if (!box.current?.contains(e.target as Node)) setOpen(false) }
    window.addEventListener('pointerdown', close)
    return () => window.removeEventListener('pointerdown', close)
  }, [open])

  const act = (fn: () => void) => () => { setOpen(false); fn() }
  const onKeyDown = (e: KeyboardEvent) => {
    const items = Array.from(list.current?.querySelectorAll<HTMLElement>('[role=menuitem]:not(:disabled)') ?? [])
    const at = items.indexOf(document.activeElement as HTMLElement)
    if (e.key === 'Escape') { e.stopPropagation(); setOpen(false); button.current?.focus() }
    else if (e.key === 'ArrowDown') { e.preventDefault(); items[(at + 1) % items.length]?.focus() }
    else if (e.key === 'ArrowUp') { e.preventDefault(); items[(at - 1 + items.length) % items.length]?.focus() }
    else if (e.key === 'Home') { e.preventDefault(); items[0]?.focus() }
    else if (e.key === 'End') { e.preventDefault(); items[items.length - 1]?.focus() }
  }

  return (
    <div className="canvas-menu menu-wrap" ref={box}>
      <button ref={button} className="tb-menu" aria-haspopup="menu" aria-expanded={open}
        title="Add blocks, panels and sharing" onClick={() => setOpen(!open)}>
        <Icon name="menu" /><span className="sr-only">Canvas menu</span>
      </button>
      {open && (
        <ul ref={list} className="menu canvas-menu-list" role="menu" aria-label="Canvas menu" onKeyDown={onKeyDown}>
          {!readOnly && (
            <>
              <li role="none"><button role="menuitem" onClick={act(() => addBlock('text'))}>+ Text block</button></li>
              <li role="none"><button role="menuitem" onClick={act(() => addBlock('image'))}>+ Image block</button></li>
              <li role="none"><button role="menuitem" disabled={!canUndo} onClick={act(undo)}>Undo</button></li>
              <li role="none"><button role="menuitem" disabled={!canRedo} onClick={act(redo)}>Redo</button></li>
            </>
          )}
          <li role="none"><button role="menuitem" onClick={act(fit)}>Fit view</button></li>
          <li role="separator" className="menu-sep" />
          {railEntries(readOnly, null).map((e) => (
            <li role="none" key={e.id}>
              <button role="menuitem" onClick={act(() => onPanel(panel === e.id ? null : e.id))}>
                {e.label}{e.id === 'queue' && activeJobs > 0 ? ` (${activeJobs} active)` : ''}
              </button>
            </li>
          ))}
          <li role="separator" className="menu-sep" />
          <li role="none"><button role="menuitem" onClick={act(onShare)}>Share…</button></li>
        </ul>
      )}
    </div>
  )
}
