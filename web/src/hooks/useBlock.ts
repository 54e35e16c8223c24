import { useEffect, useState } from 'react'
import { useArbor } from './useArbor'
import { readBlock, type BlockSnapshot } from '../sync/bindings'

/** One block's plain state (position, kind, status, image…), or null once it is gone. */
export function useBlock(blockId: string | null): BlockSnapshot | null {
  const { conn } = useArbor()
  const read = () => (blockId ? readBlock(blockId, conn.blocks.get(blockId)) : null)
  const [snap, setSnap] = useState<BlockSnapshot | null>(read)
  useEffect(() => {
    if (!blockId) {
      setSnap(null)
      return
    }
    let block = conn.blocks.get(blockId)
    const update = () => setSnap(readBlock(blockId, conn.blocks.get(blockId)))
    const onBlocks = () => {
      const now = conn.blocks.get(blockId)
      if (now === block) return
      block?.unobserve(update)
      block = now
      block?.observe(update)
      update()
    }
    block?.observe(update)
    conn.blocks.observe(onBlocks)
    update()
    return () => {
      block?.unobserve(update)
      conn.blocks.unobserve(onBlocks)
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [conn, blockId])
  return snap
}
