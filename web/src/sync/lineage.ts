// A block's branch: every ancestor along edges back to the root prompt(s), and every
// descendant. Pure functions over plain edges, so they are cheap to test and to rerun.

export interface Link {
  source: string
  target: string
}

export interface Lineage {
  ancestors: Set<string>
  descendants: Set<string>
}

function walk(start: Iterable<string>, next: Map<string, string[]>, skip: ReadonlySet<string>): Set<string> {
  const seen = new Set<string>()
  const stack = [...start]
  while (stack.length) {
    const id = stack.pop()!
    for (const n of next.get(id) ?? []) {
      if (seen.has(n) || skip.has(n)) continue
      seen.add(n)
      stack.push(n)
    }
  }
  return seen
}

function index(links: readonly Link[]): { up: Map<string, string[]>; down: Map<string, string[]> } {
  const up = new Map<string, string[]>()
  const down = new Map<string, string[]>()
  for (const { source, target } of links) {
    if (source === target) continue
    ;(down.get(source) ?? down.set(source, []).get(source)!).push(target)
    ;(up.get(target) ?? up.set(target, []).get(target)!).push(source)
  }
  return { up, down }
}

/**
 * Ancestors and descendants of the given blocks (the blocks themselves in neither). Cycles
 * (people can connect blocks any way) end the walk instead of looping.
 */
export function lineageOf(links: readonly Link[], ids: Iterable<string>): Lineage {
  const start = new Set(ids)
  const { up, down } = index(links)
  return { ancestors: walk(start, up, start), descendants: walk(start, down, start) }
}

/** Edges lying on the branch: both ends are in it, and they lead down it. */
export function branchLinks<L extends Link>(links: readonly L[], ids: Iterable<string>): L[] {
  const start = new Set(ids)
  const { ancestors, descendants } = lineageOf(links, start)
  const upper = new Set([...ancestors, ...start])
  const lower = new Set([...descendants, ...start])
  return links.filter((l) => (upper.has(l.source) && upper.has(l.target)) ||
    (lower.has(l.source) && lower.has(l.target)))
}

/**
 * The branch of one block as a story: root prompt(s) first, then each step after everything
 * it came from, down to the newest outputs. Ties (and cycles) go oldest first by `order`.
 */
export function branchStory(links: readonly Link[], id: string,
  order: (id: string) => number = () => 0): string[] {
  const { ancestors, descendants } = lineageOf(links, [id])
  const members = new Set([...ancestors, id, ...descendants])
  const inside = branchLinks(links, [id]).filter((l) => l.source !== l.target &&
    members.has(l.source) && members.has(l.target))
  const indeg = new Map<string, number>([...members].map((m) => [m, 0]))
  const down = new Map<string, string[]>()
  const seenPair = new Set<string>()
  for (const l of inside) {
    const key = `${l.source}\u0000${l.target}`
    if (seenPair.has(key)) continue
    seenPair.add(key)
    indeg.set(l.target, (indeg.get(l.target) ?? 0) + 1)
    ;(down.get(l.source) ?? down.set(l.source, []).get(l.source)!).push(l.target)
  }
  const cmp = (a: string, b: string) => order(a) - order(b) || (a < b ? -1 : a > b ? 1 : 0)
  const out: string[] = []
  const done = new Set<string>()
  let ready = [...members].filter((m) => indeg.get(m) === 0).sort(cmp)
  while (out.length < members.size) {
    if (ready.length === 0) {
      // A cycle: take its oldest block and go on.
      ready = [[...members].filter((m) => !done.has(m)).sort(cmp)[0]]
    }
    const next = ready.shift()!
    if (done.has(next)) continue
    done.add(next)
    out.push(next)
    for (const t of down.get(next) ?? []) {
      const d = (indeg.get(t) ?? 0) - 1
      indeg.set(t, d)
      if (d === 0 && !done.has(t)) ready.push(t)
    }
    ready.sort(cmp)
  }
  return out
}
