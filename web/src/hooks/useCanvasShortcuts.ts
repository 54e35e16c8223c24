import { useEffect } from 'react'
import { useReactFlow } from '@xyflow/react'
import { useArbor } from './useArbor'
import type { ArborEdge, ArborNode } from '../sync/bindings'
import { duplicateBlocks } from '../sync/mutations'
import type { BlockKind } from '../sync/schema'

function typingIn(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null
  if (!el) return false
  return el.isContentEditable || el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' ||
    !!el.closest?.('.cm-editor')
}

/** T / I new blocks, Ctrl/Cmd+D duplicate, Ctrl/Cmd+Z undo, Ctrl/Cmd+Shift+Z (or Y) redo. */
export function useCanvasShortcuts({ addBlock, selectOnly }: {
  addBlock: (kind: BlockKind) => string | null
  selectOnly: (ids: ReadonlySet<string>) => void
}): void {
  const { conn, readOnly, identity } = useArbor()
  const flow = useReactFlow<ArborNode, ArborEdge>()
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (typingIn(e.target) || readOnly) return
      const mod = e.metaKey || e.ctrlKey
      const k = e.key.toLowerCase()
      if (mod && k === 'z') {
        e.preventDefault()
        if (e.shiftKey) conn.undoManager.redo()
        else conn.undoManager.undo()
      } else if (mod && k === 'y') {
        e.preventDefault()
        conn.undoManager.redo()
      } else if (mod && k === 'd') {
        e.preventDefault()
        const ids = flow.getNodes().filter((n) => n.selected).map((n) => n.id)
        if (ids.length === 0) return
        selectOnly(new Set(duplicateBlocks(conn, ids, identity.id)))
      } else if (!mod && !e.altKey && (k === 't' || k === 'i')) {
        e.preventDefault()
        addBlock(k === 't' ? 'text' : 'image')
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [conn, readOnly, identity.id, flow, addBlock, selectOnly])
}
