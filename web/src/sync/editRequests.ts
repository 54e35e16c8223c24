// Blocks this person just created and should start typing into: the node opens its editor
// when it first mounts, so a double-click on the canvas followed by typing writes the text
// instead of firing keyboard shortcuts. A block already drawn (a new canvas's first prompt,
// opened ready for typing) hears the request at once.
const pending = new Set<string>()
const listeners = new Map<string, () => void>()

export function requestEdit(id: string): void {
  const listener = listeners.get(id)
  if (listener) listener()
  else pending.add(id)
}

/** Whether the block was just created here for editing (answers true once). */
export function takeEditRequest(id: string): boolean {
  return pending.delete(id)
}

/** Call `fn` when editing of block `id` is asked for while it is drawn; returns the undo. */
export function onEditRequest(id: string, fn: () => void): () => void {
  listeners.set(id, fn)
  return () => {
    if (listeners.get(id) === fn) listeners.delete(id)
  }
}
