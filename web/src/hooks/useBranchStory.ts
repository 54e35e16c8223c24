import { useEffect, useState } from 'react'
import { useArbor } from './useArbor'
import { branchStory, type Link } from '../sync/lineage'

/** The branch of one block, root prompt first, newest output last; live as edges change. */
export function useBranchStory(blockId: string | null): string[] {
  const { conn } = useArbor()
  const [story, setStory] = useState<string[]>([])
  useEffect(() => {
    if (!blockId) {
      setStory([])
      return
    }
    let frame = 0
    const update = () => {
      frame = 0
      if (!conn.blocks.has(blockId)) {
        setStory([])
        return
      }
      const links: Link[] = []
      conn.edges.forEach((e) => {
        const source = e.get('source')
        const target = e.get('target')
        if (typeof source === 'string' && typeof target === 'string' &&
            conn.blocks.has(source) && conn.blocks.has(target)) links.push({ source, target })
      })
      const created = (id: string) => Number(conn.blocks.get(id)?.get('createdAt') ?? 0)
      const next = branchStory(links, blockId, created)
      setStory((prev) => (prev.length === next.length && prev.every((x, i) => x === next[i]) ? prev : next))
    }
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(update)
    }
    update()
    conn.edges.observeDeep(schedule)
    conn.blocks.observe(schedule)
    return () => {
      conn.edges.unobserveDeep(schedule)
      conn.blocks.unobserve(schedule)
      if (frame) cancelAnimationFrame(frame)
    }
  }, [conn, blockId])
  return story
}
