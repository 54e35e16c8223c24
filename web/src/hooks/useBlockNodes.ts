import { useEffect, useState, type Dispatch, type SetStateAction } from 'react'
import { useArbor } from './useArbor'
import { mergeNodes, readBlocks, type ArborNode } from '../sync/bindings'

/** React Flow nodes derived from the document's blocks; local fields survive remote edits. */
export function useBlockNodes(): [ArborNode[], Dispatch<SetStateAction<ArborNode[]>>] {
  const { conn, readOnly } = useArbor()
  const [nodes, setNodes] = useState<ArborNode[]>(() => mergeNodes([], readBlocks(conn.blocks), readOnly))
  useEffect(() => {
    let frame = 0
    const update = () => {
      frame = 0
      setNodes((prev) => mergeNodes(prev, readBlocks(conn.blocks), readOnly))
    }
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(update)
    }
    update()
    conn.blocks.observeDeep(schedule)
    return () => {
      conn.blocks.unobserveDeep(schedule)
      if (frame) cancelAnimationFrame(frame)
    }
  }, [conn, readOnly])
  return [nodes, setNodes]
}
