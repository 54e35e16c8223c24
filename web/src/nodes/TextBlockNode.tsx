import { memo, useEffect, useState } from 'react'
import type { NodeProps } from '@xyflow/react'
import type { TextNode } from '../sync/bindings'
import { useArbor } from '../hooks/useArbor'
import { useBlockText } from '../hooks/useBlockText'
import { BlockFrame } from './BlockFrame'
import { Markdown } from './Markdown'
import { TextEditor } from './LazyTextEditor'
import { onEditRequest, takeEditRequest } from '../sync/editRequests'
import { GrowingText } from './GrowingText'

function TextBlockNodeImpl({ id, data, selected }: NodeProps<TextNode>) {
  const { readOnly } = useArbor()
  const { ytext, text } = useBlockText(id)
  // A block this person just made opens ready for typing.
  const [editing, setEditing] = useState(() => takeEditRequest(id))
  // ... or when asked while drawn (a new canvas's first prompt, opened ready for typing).
  useEffect(() => onEditRequest(id, () => setEditing(true)), [id])
  // Clicking elsewhere (deselecting the block) ends editing.
  useEffect(() => {
    if (!selected) setEditing(false)
  }, [selected])
  const busy = data.status === 'queued' || data.status === 'running'
  return (
    <BlockFrame id={id} data={data} selected={!!selected} title="Text">
      <GrowingText id={id} ytext={ytext} author={data.author}>
      {editing && ytext && !readOnly ? (
        <TextEditor ytext={ytext} onExit={() => setEditing(false)} />
      ) : (
        <div className="text-view" tabIndex={readOnly ? undefined : 0}
          role={readOnly ? undefined : 'button'}
          title={readOnly ? undefined : 'Double-click or press Enter to edit'}
          onDoubleClick={() => !readOnly && setEditing(true)}
          onKeyDown={(e) => { if (e.key === 'Enter' && !readOnly) { e.preventDefault(); setEditing(true) } }}>
          {text ? <Markdown text={text} /> : <p className="muted">{busy ? 'Waiting for text…' : readOnly ? 'Empty' : 'Double-click to write'}</p>}
        </div>
      )}
      </GrowingText>
      {editing && <div className="editor-hint">Esc to finish</div>}
    </BlockFrame>
  )
}

export const TextBlockNode = memo(TextBlockNodeImpl)
