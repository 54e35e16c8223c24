// A block's model: the one tools run from this block use (stored in the block's `model`,
// so everyone sees it; a tool's output block names the model that actually made it). A
// text block offers the models that write text, an image block those that make images.
import { useModels } from '../hooks/useModels'
import { useArbor } from '../hooks/useArbor'
import type { ModelInfo } from '../api/models'
import { setBlockFields } from '../sync/mutations'
import type { BlockData } from '../sync/bindings'

function label(m: ModelInfo): string {
  return m.offline && !/offline/i.test(m.label) ? `${m.label} (offline)` : m.label
}

/** The models a block of this kind offers: text models for text, image models for images. */
export function modelsForKind(models: readonly ModelInfo[], kind: 'text' | 'image'): ModelInfo[] {
  return models.filter((m) => m.kinds.includes(kind))
}

export function ModelPicker({ id, data }: { id: string; data: BlockData }) {
  const { conn, readOnly } = useArbor()
  const { models } = useModels()
  const kind = data.kind === 'image' ? 'image' : 'text'
  const offered = modelsForKind(models, kind)
  const current = data.model ?? ''
  const known = models.find((m) => m.id === current)
  if (readOnly) {
    return current ? <span className="model-name muted small" title="Model">{known ? label(known) : current}</span> : null
  }
  if (offered.length === 0 && !current) return null
  return (
    <select className="model-picker nodrag" aria-label={kind === 'image' ? 'Image model' : 'Text model'}
      value={current} title={kind === 'image' ? 'The model that makes images from this block' : 'The model that writes from this block'}
      onChange={(e) => setBlockFields(conn, id, { model: e.target.value || null })}>
      <option value="">Default model</option>
      {/* A choice made elsewhere (another kind, or a model no longer offered) stays visible. */}
      {current && !offered.some((m) => m.id === current) && <option value={current}>{known ? label(known) : current}</option>}
      {offered.map((m) => <option key={m.id} value={m.id}>{label(m)}</option>)}
    </select>
  )
}
