import { useId } from 'react'
import { imageUrl } from '../api/uploads'
import type { Thumb } from '../lib/thumbnails'

const PAD = 40

/** A canvas as the person left it: its newest blocks as rectangles, its newest images. */
export function CanvasThumb({ thumb, room, token }: { thumb: Thumb | undefined; room: string; token: string }) {
  const clip = useId()
  if (!thumb) return <div className="thumb thumb-none" aria-hidden="true">No picture yet</div>
  if (thumb.rects.length === 0) return <div className="thumb thumb-none" aria-hidden="true">Empty canvas</div>
  const pictured = new Map(thumb.images.map((im) => [im.i, im.key]))
  return (
    <svg className="thumb" viewBox={`${-PAD} ${-PAD} ${thumb.w + 2 * PAD} ${thumb.h + 2 * PAD}`}
      preserveAspectRatio="xMidYMid meet" aria-hidden="true" focusable="false">
      {thumb.rects.map(([x, y, w, h, image], i) => {
        const key = pictured.get(i)
        const r = Math.min(24, w / 8, h / 8)
        return (
          <g key={i}>
            <rect x={x} y={y} width={w} height={h} rx={r}
              className={image ? 'thumb-image' : 'thumb-text'} />
            {key && (
              <>
                <clipPath id={`${clip}-${i}`}><rect x={x} y={y} width={w} height={h} rx={r} /></clipPath>
                <image href={imageUrl(room, key, token)} x={x} y={y} width={w} height={h}
                  preserveAspectRatio="xMidYMid slice" clipPath={`url(#${clip}-${i})`} />
              </>
            )}
          </g>
        )
      })}
    </svg>
  )
}
