import { ViewportPortal } from '@xyflow/react'
import type { Person } from '../sync/presence'

/** Other people's pointers, drawn in flow coordinates. */
export function Cursors({ people }: { people: Person[] }) {
  return (
    <ViewportPortal>
      {people.filter((p) => p.cursor).map((p) => (
        <div key={p.clientId} className="cursor" aria-hidden="true"
          style={{ transform: `translate(${p.cursor!.x}px, ${p.cursor!.y}px)` }}>
          <svg width="18" height="18" viewBox="0 0 18 18"><path d="M1 1 L7 16 L9.5 9.5 L16 7 Z" fill={p.user.color} stroke="#fff" strokeWidth="1.5" /></svg>
          <span className="cursor-name" style={{ background: p.user.color }}>{p.user.name}</span>
        </div>
      ))}
    </ViewportPortal>
  )
}
