// Collaborative editing of one block's Y.Text: CodeMirror 6 bound with y-codemirror.next,
// remote carets from awareness, and this person's shared undo history.
import { useEffect, useRef } from 'react'
import * as Y from 'yjs'
import { EditorState } from '@codemirror/state'
import { EditorView, keymap, placeholder as cmPlaceholder } from '@codemirror/view'
import { defaultKeymap } from '@codemirror/commands'
import { markdown } from '@codemirror/lang-markdown'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import { useArbor } from '../hooks/useArbor'
import { editorAwareness } from '../sync/awarenessAdapter'

export function TextEditor({ ytext, onExit, placeholder }: { ytext: Y.Text; onExit: () => void; placeholder?: string }) {
  const { conn } = useArbor()
  const host = useRef<HTMLDivElement>(null)
  const exit = useRef(onExit)
  exit.current = onExit
  useEffect(() => {
    if (!host.current) return
    const view = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: ytext.toString(),
        extensions: [
          keymap.of([
            { key: 'Escape', run: () => { exit.current(); return true } },
            ...yUndoManagerKeymap,
            ...defaultKeymap,
          ]),
          markdown(),
          EditorView.lineWrapping,
          cmPlaceholder(placeholder ?? 'Describe an image idea…'),
          yCollab(ytext, editorAwareness(conn.provider.awareness), { undoManager: conn.undoManager }),
          EditorView.contentAttributes.of({ 'aria-label': 'Block text' }),
        ],
      }),
    })
    view.focus()
    view.dispatch({ selection: { anchor: view.state.doc.length } })
    return () => view.destroy()
  }, [ytext, conn, placeholder])
  return <div ref={host} className="editor nodrag nowheel nopan" onKeyDown={(e) => e.stopPropagation()} />
}
