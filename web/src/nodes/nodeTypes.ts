import type { NodeTypes } from '@xyflow/react'
import { TextBlockNode } from './TextBlockNode'
import { ImageBlockNode } from './ImageBlockNode'

// Module scope: a stable object, so React Flow never remounts the nodes.
export const nodeTypes: NodeTypes = {
  text: TextBlockNode,
  image: ImageBlockNode,
}
