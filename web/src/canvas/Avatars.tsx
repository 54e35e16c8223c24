import { initials } from '../lib/identity'
import type { Person } from '../sync/presence'
import { useArbor } from '../hooks/useArbor'

/** Who is here; click someone to follow their view. */
export function Avatars({ people, following, onFollow }: {
  people: Person[]; following: string | null; onFollow: (id: string | null) => void
}) {
  const { identity } = useArbor()
  const followers = people.filter((p) => p.following === identity.id)
  return (
    <div className="avatars">
      <ul aria-label="People on this canvas">
        {people.map((p) => {
          const active = following === p.user.id
          const blocked = p.user.noFollow === true
          const label = blocked ? `${p.user.name} (does not share their view)` : active ? `Stop following ${p.user.name}` : `Follow ${p.user.name}`
          return (
            <li key={p.clientId}>
              <button className={`avatar${active ? ' active' : ''}`} style={{ background: p.user.color }}
                aria-label={label} title={label} aria-pressed={active} disabled={blocked}
                onClick={() => onFollow(active ? null : p.user.id)}>
                {initials(p.user.name)}
              </button>
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
