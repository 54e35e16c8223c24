import { memo, useEffect, useState, type DragEvent } from 'react'
import { useStore, type NodeProps } from '@xyflow/react'
import type { ImageNode } from '../sync/bindings'
import { useArbor } from '../hooks/useArbor'
import { useBlockText } from '../hooks/useBlockText'
import { imageUrl } from '../api/uploads'
import { useImageUpload } from '../hooks/useImageUpload'
import { BlockFrame } from './BlockFrame'
import { TextEditor } from './LazyTextEditor'
import { PublishAction } from '../pages/gallery/PublishAction'
import { pickImage } from '../canvas/pickImage'

const zoomSelector = (s: { transform: [number, number, number] }) => s.transform[2] > 1.5

function ImageBlockNodeImpl({ id, data, selected }: NodeProps<ImageNode>) {
  const { room, token, readOnly } = useArbor()
  const { ytext, text } = useBlockText(id)
  const [editing, setEditing] = useState(false)
  const [over, setOver] = useState(false)
  const zoomedIn = useStore(zoomSelector)
  const upload = useImageUpload()
  useEffect(() => {
    if (!selected) setEditing(false)
  }, [selected])
  const img = data.image
  const busy = data.status === 'queued' || data.status === 'running'
  // The thumbnail normally; the full image once zoomed in.
  const key = img ? (zoomedIn || !img.thumbKey ? img.key : img.thumbKey) : null

  function onDrop(e: DragEvent) {
    if (readOnly) return
    const file = Array.from(e.dataTransfer.files).find((f) => f.type.startsWith('image/'))
    if (!file) return
    e.preventDefault()
    e.stopPropagation()
    setOver(false)
    void upload(id, file)
  }

  return (
    <BlockFrame id={id} data={data} selected={!!selected} title="Image">
      <div className={`image-area${over ? ' drop' : ''}`}
        onDragOver={(e) => { if (!readOnly && e.dataTransfer.types.includes('Files')) { e.preventDefault(); setOver(true) } }}
        onDragLeave={() => setOver(false)} onDrop={onDrop}>
        {key ? (
          <img src={imageUrl(room, key, token)} alt={text ? `Image: ${text.slice(0, 120)}` : 'Generated image'}
            draggable={false} width={img?.width || undefined} height={img?.height || undefined} />
        ) : (
          <div className="image-empty">
            <p className="muted">{busy ? 'Generating…' : readOnly ? 'No image yet' : 'Drop or paste an image, or'}</p>
            {!busy && !readOnly && (
              <button className="pick-image nodrag" onClick={() => void pickImage().then((f) => f && upload(id, f))}>
                Choose an image…
              </button>
            )}
          </div>
        )}
      </div>
      {editing && ytext && !readOnly ? (
        <TextEditor ytext={ytext} placeholder="Describe the image…" onExit={() => setEditing(false)} />
      ) : (
        <div className="caption" tabIndex={readOnly ? undefined : 0} role={readOnly ? undefined : 'button'}
          title={readOnly ? undefined : 'Double-click or press Enter to edit the prompt'}
          onDoubleClick={() => !readOnly && setEditing(true)}
          onKeyDown={(e) => { if (e.key === 'Enter' && !readOnly) { e.preventDefault(); setEditing(true) } }}>
          {text || <span className="muted">{readOnly ? '' : 'Double-click to add a prompt'}</span>}
        </div>
      )}
      {img && selected && (
        <div className="image-actions nodrag">
          <a href={imageUrl(room, img.key, token)} target="_blank" rel="noopener noreferrer"
            aria-label="Open the full-size image in a new tab">Open full size</a>
          <a href={imageUrl(room, img.key, token)} download={`arbor-${id}.webp`}
            aria-label="Download the image">Download</a>
        </div>
      )}
      {img && selected && <PublishAction blockId={id} />}
    </BlockFrame>
  )
}

export const ImageBlockNode = memo(ImageBlockNodeImpl)
