// What every block has: handles, resizer, status, other people's selection outline.
import type { ReactNode } from 'react'
import { Handle, NodeResizer, Position } from '@xyflow/react'
import type { BlockData } from '../sync/bindings'
import { useArbor } from '../hooks/useArbor'
import { resizeBlock } from '../sync/mutations'
import { StatusBadge } from './StatusBadge'
import { ModelPicker } from '../canvas/ModelPicker'

export function BlockFrame({ id, data, selected, title, children }: {
  id: string; data: BlockData; selected: boolean; title: string; children: ReactNode
}) {
  const { conn, readOnly } = useArbor()
  const peers = (data as BlockData & { peerColors?: string[] }).peerColors
  const outline = peers && peers.length ? { boxShadow: peers.map((c, i) => `0 0 0 ${2 + i * 3}px ${c}`).join(', ') } : undefined
  return (
    <div className={`block block-${data.kind}${selected ? ' selected' : ''}`} style={outline}>
      {!readOnly && (
        <NodeResizer isVisible={selected} minWidth={120} minHeight={80}
          onResizeEnd={(_, p) => resizeBlock(conn, id, { x: p.x, y: p.y, w: p.width, h: p.height })} />
      )}
      <Handle type="target" position={Position.Left} isConnectable={!readOnly} title={readOnly ? undefined : 'Input: drop a connection here'} />
      <div className="block-head">
        <span className="block-kind">{title}</span>
        <StatusBadge id={id} data={data} />
      </div>
      <div className="block-body">{children}</div>
      <div className="block-foot"><ModelPicker id={id} data={data} /></div>
      <Handle type="source" position={Position.Right} isConnectable={!readOnly} title={readOnly ? undefined : 'Output: drag to a new block'} />
    </div>
  )
}
