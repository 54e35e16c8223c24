import { useEffect, useState } from 'react'
import { useArbor } from './useArbor'

/** This person's undo/redo availability (their own edits only). */
export function useUndoState(): { canUndo: boolean; canRedo: boolean; undo: () => void; redo: () => void } {
  const { conn } = useArbor()
  const um = conn.undoManager
  const [, setTick] = useState(0)
  useEffect(() => {
    const bump = () => setTick((t) => t + 1)
    um.on('stack-item-added', bump)
    um.on('stack-item-popped', bump)
    um.on('stack-cleared', bump)
    return () => {
      um.off('stack-item-added', bump)
      um.off('stack-item-popped', bump)
      um.off('stack-cleared', bump)
    }
  }, [um])
  return { canUndo: um.canUndo(), canRedo: um.canRedo(), undo: () => um.undo(), redo: () => um.redo() }
}
