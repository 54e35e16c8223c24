// meta.prompts, the canvas's own tool prompt templates (tool name → template).
//
// The map is made by one fixed Yjs client (PROMPTS_CLIENT_ID) at its clock 0, by whoever
// makes it first: the server in a new canvas's first state, or this code in a canvas made
// before that. Every creator makes the same item, so two people changing their first
// prompt at the same moment write into one map; with a map each, the one Yjs kept would
// have dropped the other's change.
import * as Y from 'yjs'
import { META, PROMPTS_CLIENT_ID } from './schema'

/** The update that creates an empty meta.prompts: the same bytes from every creator. */
export function promptsMapUpdate(): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = PROMPTS_CLIENT_ID
  doc.getMap(META).set('prompts', new Y.Map())
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

/** Origin of the map's creation: not this person's edit, so undo never removes the map. */
export const PROMPTS_ORIGIN = 'arbor:prompts'

/** Set (or with null, reset) one tool's template, as `transact` (this person's undoable
 * edit). Makes the map first where the canvas has none. */
export function writePrompt(
  doc: Y.Doc, transact: (fn: () => void) => void, tool: string, value: string | null,
): void {
  const meta = doc.getMap(META)
  if (!(meta.get('prompts') instanceof Y.Map)) {
    if (value == null) return
    Y.applyUpdate(doc, promptsMapUpdate(), PROMPTS_ORIGIN)
  }
  transact(() => {
    let prompts = meta.get('prompts')
    if (!(prompts instanceof Y.Map)) {
      // A map made by the fixed client was deleted (an old restore did that): make one.
      prompts = new Y.Map<unknown>()
      meta.set('prompts', prompts)
    }
    const map = prompts as Y.Map<unknown>
    if (value == null) map.delete(tool)
    else map.set(tool, value)
  })
}
