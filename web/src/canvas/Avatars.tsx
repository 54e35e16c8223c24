import { useEffect, useRef, useState } from 'react'
import { initials } from '../lib/identity'
import type { Person } from '../sync/presence'
import { useArbor } from '../hooks/useArbor'

/** Who is here; each avatar opens a menu: follow their view, or watch their branch. */
export function Avatars({ people, following, onFollow, watching, onWatch }: {
  people: Person[]
  following: string | null
  onFollow: (id: string | null) => void
  watching: string | null
  onWatch: (id: string | null) => void
}) {
  const { identity } = useArbor()
  const [open, setOpen] = useState<number | null>(null)
  const box = useRef<HTMLDivElement>(null)
  const followers = people.filter((p) => p.following === identity.id)

  useEffect(() => {
    if (open == null) return
    const close = (e: MouseEvent) => { if (!box.current?.contains(e.target as Node)) setOpen(null) }
    const esc = (e: KeyboardEvent) => { if (e.key === 'Escape') setOpen(null) }
    window.addEventListener('mousedown', close)
    window.addEventListener('keydown', esc)
    return () => { window.removeEventListener('mousedown', close); window.removeEventListener('keydown', esc) }
  }, [open])

  return (
    <div className="avatars" ref={box}>
      <ul aria-label="People on this canvas">
        {people.map((p) => {
          const followed = following === p.user.id
          const watched = watching === p.user.id
          const blocked = p.user.noFollow === true
          const state = [followed && 'following', watched && 'watching their branch', p.spotlight != null && 'in the spotlight']
            .filter(Boolean).join(', ')
          return (
            <li key={p.clientId} className="avatar-item">
              <button className={`avatar${followed ? ' active' : ''}${p.spotlight != null ? ' spotlight' : ''}`}
                style={{ background: p.user.color }}
                aria-label={`${p.user.name}${state ? ` (${state})` : ''}`} title={p.user.name}
                aria-haspopup="menu" aria-expanded={open === p.clientId}
                onClick={() => setOpen(open === p.clientId ? null : p.clientId)}>
                {initials(p.user.name)}
              </button>
              {open === p.clientId && (
                <ul className="menu avatar-menu" role="menu" aria-label={p.user.name}>
                  <li role="none" className="menu-title small">{p.user.name}</li>
                  <li role="none">
                    <button role="menuitem" disabled={blocked && !followed}
                      title={blocked ? `${p.user.name} does not share their view` : undefined}
                      onClick={() => { onFollow(followed ? null : p.user.id); setOpen(null) }}>
                      {followed ? `Stop following ${p.user.name}` : blocked ? `${p.user.name} does not share their view` : `Follow ${p.user.name}`}
                    </button>
                  </li>
                  <li role="none">
                    <button role="menuitem" onClick={() => { onWatch(watched ? null : p.user.id); setOpen(null) }}>
                      {watched ? `Stop watching ${p.user.name}’s branch` : `Watch ${p.user.name}’s branch`}
                    </button>
                  </li>
                </ul>
              )}
            </li>
          )
        })}
      </ul>
      {followers.length > 0 && (
        <span className="followers small" role="status">
          {followers.map((f) => f.user.name).join(', ')} {followers.length === 1 ? 'is' : 'are'} following you
        </span>
      )}
    </div>
  )
}
