import { useCallback, useEffect, useRef, useState } from 'react'
import { useArbor } from '../hooks/useArbor'
import { usePeers } from '../hooks/usePeers'
import { COLOR_NAMES, generateName, initials, pickColor } from '../lib/identity'
import { navigate } from '../App'
import { NameDialog } from './NameDialog'
import './me.css'

/** A made-up name or colour that someone else here already has is replaced (once each
 * time it happens): two people on one canvas are never both "Curious Otter". */
function useDistinctGeneratedIdentity(): void {
  const { identity, setIdentity } = useArbor()
  const people = usePeers()
  useEffect(() => {
    if (!identity.generated) return
    const others = people.filter((p) => p.user.id !== identity.id)
    const sameName = others.some((p) => p.user.name === identity.name)
    const sameColor = others.some((p) => p.user.color === identity.color)
    if (!sameName && !sameColor) return
    setIdentity({
      ...identity,
      name: sameName ? generateName(others.map((p) => p.user.name)) : identity.name,
      color: sameColor ? pickColor(others.map((p) => p.user.color)) : identity.color,
    })
  }, [people, identity, setIdentity])
}

/** This person's own avatar: name and colour, the gallery, spotlight, and whether others
 * may follow. */
export function MeMenu({ spotlight, onSpotlight }: {
  spotlight: boolean; onSpotlight: () => void
}) {
  const { identity, setIdentity } = useArbor()
  const [open, setOpen] = useState(false)
  const [editing, setEditing] = useState(false)
  const box = useRef<HTMLDivElement>(null)
  const button = useRef<HTMLButtonElement>(null)
  useDistinctGeneratedIdentity()
  useEffect(() => {
    if (!open) return
    const close = (e: MouseEvent) => { if (!box.current?.contains(e.target as Node)) setOpen(false) }
    const esc = (e: KeyboardEvent) => { if (e.key === 'Escape') setOpen(false) }
    window.addEventListener('mousedown', close)
    window.addEventListener('keydown', esc)
    return () => { window.removeEventListener('mousedown', close); window.removeEventListener('keydown', esc) }
  }, [open])
  const stopEditing = useCallback(() => { setEditing(false); button.current?.focus() }, [])
  const color = COLOR_NAMES[identity.color]
  return (
    <div className="avatar-item" ref={box}>
      <button ref={button} className="avatar me" style={{ background: identity.color }} onClick={() => setOpen(!open)}
        aria-label={`You: ${identity.name}`} title={`You: ${identity.name}`} aria-haspopup="menu" aria-expanded={open}>
        {initials(identity.name)}
      </button>
      {open && (
        <ul className="menu avatar-menu" role="menu" aria-label="You">
          <li role="none" className="menu-title small">
            <span className="me-swatch" style={{ background: identity.color }} aria-hidden="true" />
            You: {identity.name}{color ? ` (${color})` : ''}
          </li>
          <li role="none">
            <button role="menuitem" onClick={() => { setOpen(false); setEditing(true) }}>Change name or colour…</button>
          </li>
          <li role="none">
            <button role="menuitemcheckbox" aria-checked={spotlight} disabled={identity.noFollow && !spotlight}
              title={identity.noFollow ? 'Let others follow you first' : 'Ask everyone to follow your view; each can decline'}
              onClick={() => { onSpotlight(); setOpen(false) }}>
              {spotlight ? 'Stop the spotlight' : 'Spotlight me'}
            </button>
          </li>
          <li role="none">
            <button role="menuitemcheckbox" aria-checked={identity.noFollow}
              onClick={() => setIdentity({ ...identity, noFollow: !identity.noFollow })}>
              {identity.noFollow ? '✓ ' : ''}Don’t let others follow me
            </button>
          </li>
          <li role="separator" className="menu-sep" />
          <li role="none">
            <a href="/gallery" role="menuitem" onClick={(e) => {
              if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
              e.preventDefault()
              navigate('/gallery')
            }}>Gallery: what people made</a>
          </li>
        </ul>
      )}
      {editing && (
        <NameDialog current={identity} onCancel={stopEditing}
          onDone={(i) => { setIdentity(i); stopEditing() }} />
      )}
    </div>
  )
}
