// Blocks this person just created and should start typing into: the node opens its editor
// when it first mounts, so a double-click on the canvas followed by typing writes the text
// instead of firing keyboard shortcuts.
const pending = new Set<string>()

export function requestEdit(id: string): void {
  pending.add(id)
}

/** Whether the block was just created here for editing (answers true once). */
export function takeEditRequest(id: string): boolean {
  return pending.delete(id)
}
