// y-codemirror.next keeps a text caret in the awareness field "cursor" as {anchor, head};
// in Arbor "cursor" is the pointer {x, y}. This adapter gives the editor a view in which
// "cursor" means the text caret, stored as cursor.text, so both live side by side.
import type { Awareness } from 'y-protocols/awareness'

type State = Record<string, unknown>

function caretOf(s: State | null): unknown {
  const c = s?.cursor as State | null | undefined
  return c && typeof c === 'object' ? (c.text ?? null) : null
}

export function editorAwareness(real: Awareness) {
  return {
    get doc() {
      return real.doc
    },
    get clientID() {
      return real.clientID
    },
    getLocalState(): State | null {
      const s = real.getLocalState() as State | null
      return s && { ...s, cursor: caretOf(s) }
    },
    setLocalStateField(field: string, value: unknown) {
      if (field !== 'cursor') {
        real.setLocalStateField(field, value)
        return
      }
      const s = real.getLocalState() as State | null
      const c = (s?.cursor as State | null | undefined) ?? null
      real.setLocalStateField('cursor', { ...(c ?? {}), text: value })
    },
    getStates(): Map<number, State> {
      const out = new Map<number, State>()
      real.getStates().forEach((s, id) => out.set(id, { ...s, cursor: caretOf(s as State) }))
      return out
    },
    on(event: 'change' | 'update', f: (...args: never[]) => void) {
      real.on(event, f as never)
    },
    off(event: 'change' | 'update', f: (...args: never[]) => void) {
      real.off(event, f as never)
    },
  }
}
