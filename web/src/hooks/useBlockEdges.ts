import { useEffect, useState, type Dispatch, type SetStateAction } from 'react'
import { useArbor } from './useArbor'
import { mergeEdges, readEdges, type ArborEdge } from '../sync/bindings'

/** React Flow edges derived from the document's edges (those whose blocks both exist). */
export function useBlockEdges(): [ArborEdge[], Dispatch<SetStateAction<ArborEdge[]>>] {
  const { conn } = useArbor()
  const compute = () => readEdges(conn.edges, new Set(conn.blocks.keys()))
  const [edges, setEdges] = useState<ArborEdge[]>(compute)
  useEffect(() => {
    let frame = 0
    const update = () => {
      frame = 0
      setEdges((prev) => mergeEdges(prev, readEdges(conn.edges, new Set(conn.blocks.keys()))))
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
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [conn])
  return [edges, setEdges]
}
