// A block's model: the one tools run from this block use (stored in the block's `model`,
// so everyone sees it; a tool's output block names the model that actually made it).
import { useModels } from '../hooks/useModels'
import { useArbor } from '../hooks/useArbor'
import { modelsForBlock, type ModelInfo } from '../api/models'
import { setBlockFields } from '../sync/mutations'
import type { BlockData } from '../sync/bindings'

const KIND_LABEL = { text: 'Text', image: 'Images' } as const

function label(m: ModelInfo): string {
  return m.offline ? `${m.label} (offline)` : m.label
}

export function ModelPicker({ id, data }: { id: string; data: BlockData }) {
  const { conn, readOnly } = useArbor()
  const { models } = useModels()
  const kind = data.kind === 'image' ? 'image' : 'text'
  const offered = modelsForBlock(models, kind)
  const current = data.model ?? ''
  const known = models.find((m) => m.id === current)
  if (readOnly) {
    return current ? <span className="model-name muted small" title="Model">{known ? label(known) : current}</span> : null
  }
  if (offered.length === 0 && !current) return null
  const groups: ('text' | 'image')[] = ['text', 'image']
  return (
    <select className="model-picker nodrag" aria-label="Model" value={current}
      title="The model tools run from this block use"
      onChange={(e) => setBlockFields(conn, id, { model: e.target.value || null })}>
      <option value="">Default model</option>
      {current && !known && <option value={current}>{current}</option>}
      {groups.map((g) => {
        const list = offered.filter((m) => m.kinds.includes(g))
        return list.length ? (
          <optgroup key={g} label={KIND_LABEL[g]}>
            {list.map((m) => <option key={m.id} value={m.id}>{label(m)}</option>)}
          </optgroup>
        ) : null
      })}
    </select>
  )
}
