import type { LineageStep } from '../../api/gallery'
import { CopyButton } from './CopyButton'
import { aspectRatio, srcSet } from './imageSources'

const TOOL_WORDS: Record<string, string> = {
  expand: 'Expanded', twist: 'Twisted', image: 'Generated an image', generate_image: 'Generated an image',
  variations: 'Made a variation', describe: 'Described', combine: 'Combined', split: 'Split',
}
// A step's image is drawn at most 360 px wide (gallery.css), less on a phone.
const STEP_SIZES = '(max-width: 420px) calc(100vw - 64px), 360px'

function toolWords(tool: string | null, first: boolean): string {
  if (!tool) return first ? 'Started with' : 'Wrote'
  return TOOL_WORDS[tool] ?? `Ran ${tool}`
}

/** The steps that led to an image, top to bottom. Texts are shown as text, never HTML.
 * `copyPrompts`: each text gets a button that copies it (a post's page). */
export function LineageStory({ steps, imageSrc, copyPrompts = false }: {
  steps: LineageStep[]
  imageSrc: (step: LineageStep) => string | null
  copyPrompts?: boolean
}) {
  return (
    <ol className="lineage" aria-label="How this image grew">
      {steps.map((s, i) => {
        const src = s.image ? imageSrc(s) : null
        return (
          <li key={s.block_id} className={`lineage-step ${s.kind}`}>
            <span className="lineage-tool muted">{toolWords(s.tool, i === 0)}</span>
            {src && s.image && <img src={src} srcSet={srcSet(s.image)} sizes={STEP_SIZES}
              alt={s.text ? s.text.slice(0, 120) : 'An image of this lineage'} loading="lazy" decoding="async"
              width={s.image.width || undefined} height={s.image.height || undefined}
              style={{ aspectRatio: aspectRatio(s.image) }} />}
            {s.text && <p className="lineage-text">{s.text}</p>}
            {copyPrompts && s.text.trim() && (
              <CopyButton text={s.text} label="Copy prompt" ariaLabel={`Copy prompt of step ${i + 1}`} />
            )}
          </li>
        )
      })}
    </ol>
  )
}
