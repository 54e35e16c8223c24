import { useState } from 'react'
import { createPortal } from 'react-dom'
import { useArbor } from '../../hooks/useArbor'
import { PublishDialog } from './PublishDialog'

/** The "Publish" button of an image block (edit links only), and its dialog. */
export function PublishAction({ blockId }: { blockId: string }) {
  const { room, token, readOnly } = useArbor()
  const [open, setOpen] = useState(false)
  if (readOnly) return null
  return (
    <>
      <button className="nodrag publish-action" onMouseDown={(e) => e.stopPropagation()}
        onClick={(e) => { e.stopPropagation(); setOpen(true) }}>Publish</button>
      {open && createPortal(
        <PublishDialog room={room} token={token} blockId={blockId} onClose={() => setOpen(false)} />,
        document.body)}
    </>
  )
}
