import { memo } from 'react'
import { useArbor } from '../hooks/useArbor'
import { useBlock } from '../hooks/useBlock'
import { useBlockText } from '../hooks/useBlockText'
import { useBranchStory } from '../hooks/useBranchStory'
import { imageUrl } from '../api/uploads'
import { useLabels } from '../hooks/useLabels'
import type { Person } from '../sync/presence'

const STATUS: Record<string, string> = { queued: 'queued', running: 'writing…', error: 'failed', cancelled: 'cancelled' }

const Step = memo(function Step({ id, current, onGo }: { id: string; current: boolean; onGo: (id: string) => void }) {
  const { room, token } = useArbor()
  const block = useBlock(id)
  const { text } = useBlockText(id)
  const labels = useLabels()
  if (!block) return null
  const d = block.data
  const img = d.image
  const kind = d.kind === 'image' ? 'Image' : d.tool ? 'Text' : 'Prompt'
  const summary = text.trim() ? text.trim().slice(0, 80) : kind
  return (
    <li className={`story-step${current ? ' current' : ''}`} data-block={id}>
      <button className="story-go" onClick={() => onGo(id)} aria-label={`Go to ${kind.toLowerCase()}: ${summary}`}
        aria-current={current ? 'step' : undefined}>
        <span className="story-meta small">
          <span className="story-tool">{d.tool ? labels.tool(d.tool) : kind}</span>
          {STATUS[d.status] && <span className={`muted status-${d.status}`}> · {STATUS[d.status]}</span>}
        </span>
        {img && <img src={imageUrl(room, img.thumbKey ?? img.key, token)} alt={text ? `Image: ${text.slice(0, 120)}` : 'Image'} />}
        {text && <span className="story-text">{text.length > 600 ? `${text.slice(0, 600)}…` : text}</span>}
        {!img && !text && <span className="muted">{d.status === 'queued' || d.status === 'running' ? 'Waiting…' : 'Empty'}</span>}
      </button>
    </li>
  )
})

/** Someone's branch as a story: root prompt to newest output, live as it grows. */
export function BranchPanel({ person, name, blockId, onGo, onClose }: {
  /** The person while they are here (null once they left). */
  person: Person | null
  name: string
  blockId: string | null
  onGo: (id: string) => void
  onClose: () => void
}) {
  const story = useBranchStory(blockId)
  return (
    <section className="side-panel branch-panel" aria-labelledby="branch-h"
      style={person ? { borderTopColor: person.user.color } : undefined}>
      <div className="panel-head">
        <h2 id="branch-h">{name}’s branch</h2>
        <button className="ghost small" onClick={onClose} aria-label="Stop watching this branch">×</button>
      </div>
      {!person && <p className="muted small">This person has left the canvas.</p>}
      {person && !blockId && <p className="muted small">{name} has not selected a block yet. Their branch appears here when they do.</p>}
      {person && blockId && story.length === 0 && <p className="muted small">That block was deleted.</p>}
      <ol className="story" aria-label={`Steps of ${name}’s branch`}>
        {story.map((id) => <Step key={id} id={id} current={id === blockId} onGo={onGo} />)}
      </ol>
    </section>
  )
}
