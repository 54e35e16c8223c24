// Getting started on a canvas: an empty one says how to add blocks; a new one opens its
// prompt block ready for typing and says what comes next.
import { useEffect, useRef } from 'react'
import * as Y from 'yjs'
import { useArbor } from '../hooks/useArbor'
import { useConnectionState } from '../hooks/useConnectionState'
import { requestEdit } from '../sync/editRequests'
import type { ArborNode } from '../sync/bindings'
import './hints.css'

/** The one empty text block of a canvas with nothing else in it, if that is what it holds. */
function loneEmptyPrompt(blocks: Y.Map<Y.Map<unknown>>, edges: number): string | null {
  if (blocks.size !== 1 || edges !== 0) return null
  const [[id, block]] = Array.from(blocks.entries())
  const text = block.get('text')
  const empty = text instanceof Y.Text ? text.length === 0 : text == null || text === ''
  return block.get('kind') === 'text' && empty ? id : null
}

export function StartHints({ nodes, edges, selectOnly }: {
  nodes: readonly ArborNode[]; edges: number; selectOnly: (ids: ReadonlySet<string>) => void
}) {
  const { conn, readOnly } = useArbor()
  const { synced } = useConnectionState()

  // Once the server's document is here: a lone empty prompt gets the caret (everyone who
  // opens a new canvas lands in it; the server made it, so there is only ever one).
  const focused = useRef(false)
  useEffect(() => {
    if (focused.current || readOnly || !synced) return
    focused.current = true
    const id = loneEmptyPrompt(conn.blocks, conn.edges.size)
    if (!id) return
    selectOnly(new Set([id]))
    requestEdit(id)
  }, [synced, readOnly, conn, selectOnly])

  if (!synced && nodes.length === 0) return null
  if (nodes.length === 0) {
    return (
      <div className="start-hint empty-hint" role="note" aria-label="How to start">
        {readOnly ? (
          <p><strong>Nothing here yet.</strong> Blocks appear as people add them.</p>
        ) : (
          <>
            <p><strong>This canvas is empty.</strong></p>
            <ul>
              <li><strong>Double-click</strong> anywhere for a text block</li>
              <li>Press <kbd>T</kbd> for text, <kbd>I</kbd> for an image</li>
              <li><strong>Right-click</strong> for more, or drop or paste an image</li>
            </ul>
          </>
        )}
      </div>
    )
  }
  if (!readOnly && nodes.length === 1 && edges === 0 && nodes[0].type === 'text') {
    return (
      <p className="start-hint next-hint" role="note">
        Next: write an idea in the block, then run a tool from it, such as <strong>Generate image</strong>.
      </p>
    )
  }
  return null
}
