import { useEffect, useState } from 'react'
import * as Y from 'yjs'
import { useArbor } from './useArbor'

/** The Y.Text of a block (null if the block has none) and its current string. */
export function useBlockText(blockId: string): { ytext: Y.Text | null; text: string } {
  const { conn } = useArbor()
  const find = () => {
    const t = conn.blocks.get(blockId)?.get('text')
    return t instanceof Y.Text ? t : null
  }
  const [ytext, setYtext] = useState<Y.Text | null>(find)
  const [text, setText] = useState(() => ytext?.toString() ?? '')
  useEffect(() => {
    const block = conn.blocks.get(blockId)
    const sync = () => setYtext(find())
    block?.observe(sync)
    sync()
    return () => block?.unobserve(sync)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [conn, blockId])
  useEffect(() => {
    if (!ytext) {
      setText('')
      return
    }
    const update = () => setText(ytext.toString())
    update()
    ytext.observe(update)
    return () => ytext.unobserve(update)
  }, [ytext])
  return { ytext, text }
}
