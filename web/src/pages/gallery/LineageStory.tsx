import type { LineageStep } from '../../api/gallery'

const TOOL_WORDS: Record<string, string> = {
  expand: 'Expanded', twist: 'Twisted', image: 'Generated an image', generate_image: 'Generated an image',
  variations: 'Made a variation', describe: 'Described', combine: 'Combined', split: 'Split',
}

function toolWords(tool: string | null, first: boolean): string {
  if (!tool) return first ? 'Started with' : 'Wrote'
  return TOOL_WORDS[tool] ?? `Ran ${tool}`
}

/** The steps that led to an image, top to bottom. Texts are shown as text, never HTML. */
export function LineageStory({ steps, imageSrc }: {
  steps: LineageStep[]
  imageSrc: (step: LineageStep) => string | null
}) {
  return (
    <ol className="lineage" aria-label="How this image grew">
      {steps.map((s, i) => {
        const src = s.image ? imageSrc(s) : null
        return (
          <li key={s.block_id} className={`lineage-step ${s.kind}`}>
            <span className="lineage-tool muted">{toolWords(s.tool, i === 0)}</span>
            {src && <img src={src} alt={s.text ? s.text.slice(0, 120) : 'An image of this lineage'} loading="lazy"
              width={s.image?.width || undefined} height={s.image?.height || undefined} />}
            {s.text && <p className="lineage-text">{s.text}</p>}
          </li>
        )
      })}
    </ol>
  )
}
