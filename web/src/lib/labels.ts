// Words for ids: what a person reads where the server or the document has a name.

/** "generate_image" → "Generate image"; "offline:text" → "Offline text". For names no
 * catalog knows (an old job's tool, a model since removed). */
export function humanize(id: string | null | undefined): string {
  const words = String(id ?? '').replace(/[_:.\-/]+/g, ' ').replace(/\s+/g, ' ').trim()
  return words ? words[0].toUpperCase() + words.slice(1) : ''
}

/** Who the server records for edits nobody typed: tool runs and (in older rooms) restores. */
const SERVER_AUTHORS: Record<string, string> = { Arbor: 'tool runs', restore: '' }

/** The people a checkpoint or a spend row names, in words: "Arbor" (edits the server made
 * for a tool run) reads "tool runs", and a bare "restore" is left out (a restore says who
 * made it elsewhere). */
export function peopleLabels(authors: readonly string[]): string[] {
  const out: string[] = []
  for (const a of authors) {
    const name = a && a.trim() ? (a in SERVER_AUTHORS ? SERVER_AUTHORS[a] : a.trim()) : ''
    if (name && !out.includes(name)) out.push(name)
  }
  // People first, then "tool runs".
  return [...out.filter((n) => n !== 'tool runs'), ...out.filter((n) => n === 'tool runs')]
}

/** "Ada", "Ada and Ben", "Ada, Ben and 2 others". */
export function listNames(names: readonly string[]): string {
  if (names.length === 0) return ''
  if (names.length === 1) return names[0]
  if (names.length <= 3) return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`
  return `${names[0]}, ${names[1]} and ${names.length - 2} others`
}
