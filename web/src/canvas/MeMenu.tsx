import { useEffect, useRef, useState } from 'react'
import { useArbor } from '../hooks/useArbor'
import { initials } from '../lib/identity'

/** This person's own avatar: name and colour, spotlight, and whether others may follow. */
export function MeMenu({ spotlight, onSpotlight, onEdit }: {
  spotlight: boolean; onSpotlight: () => void; onEdit: () => void
}) {
  const { identity, setIdentity } = useArbor()
  const [open, setOpen] = useState(false)
  const box = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (!open) return
    const close = (e: MouseEvent) => { if (!box.current?.contains(e.target as Node)) setOpen(false) }
    const esc = (e: KeyboardEvent) => { if (e.key === 'Escape') setOpen(false) }
    window.addEventListener('mousedown', close)
    window.addEventListener('keydown', esc)
    return () => { window.removeEventListener('mousedown', close); window.removeEventListener('keydown', esc) }
  }, [open])
  return (
    <div className="avatar-item" ref={box}>
      <button className="avatar me" style={{ background: identity.color }} onClick={() => setOpen(!open)}
        aria-label={`You: ${identity.name}`} title={`You: ${identity.name}`} aria-haspopup="menu" aria-expanded={open}>
        {initials(identity.name)}
      </button>
      {open && (
        <ul className="menu avatar-menu" role="menu" aria-label="You">
          <li role="none" className="menu-title small">You: {identity.name}</li>
          <li role="none">
            <button role="menuitem" onClick={() => { setOpen(false); onEdit() }}>Change name or colour…</button>
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
        </ul>
      )}
    </div>
  )
}
