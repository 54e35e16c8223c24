import { describe, expect, it } from 'vitest'
import { branchLinks, branchStory, lineageOf, type Link } from './lineage'

const e = (source: string, target: string): Link => ({ source, target })

// root ─► a ─► a1 ─► a1x
//   │      └─► a2
//   └─► b ─► b1          c (unrelated)      (a1, b) ─► m (a combine)
const links = [e('root', 'a'), e('a', 'a1'), e('a1', 'a1x'), e('a', 'a2'), e('root', 'b'), e('b', 'b1'),
  e('a1', 'm'), e('b', 'm')]

describe('lineageOf', () => {
  it('finds every ancestor back to the root and every descendant', () => {
    const l = lineageOf(links, ['a1'])
    expect([...l.ancestors].sort()).toEqual(['a', 'root'])
    expect([...l.descendants].sort()).toEqual(['a1x', 'm'])
  })

  it('follows every parent of a block with several inputs', () => {
    expect([...lineageOf(links, ['m']).ancestors].sort()).toEqual(['a', 'a1', 'b', 'root'])
    expect(lineageOf(links, ['m']).descendants.size).toBe(0)
  })

  it('leaves sibling branches and unrelated blocks out', () => {
    const l = lineageOf(links, ['a1'])
    for (const other of ['a2', 'b1', 'c']) {
      expect(l.ancestors.has(other) || l.descendants.has(other)).toBe(false)
    }
  })

  it('stops at cycles and never lists the start itself', () => {
    const l = lineageOf([e('x', 'y'), e('y', 'z'), e('z', 'x'), e('q', 'q')], ['x'])
    expect([...l.ancestors].sort()).toEqual(['y', 'z'])
    expect([...l.descendants].sort()).toEqual(['y', 'z'])
    expect(lineageOf([e('q', 'q')], ['q'])).toEqual({ ancestors: new Set(), descendants: new Set() })
  })

  it('a root has only descendants', () => {
    const l = lineageOf(links, ['root'])
    expect(l.ancestors.size).toBe(0)
    expect(l.descendants.size).toBe(7)
  })
})

describe('branchLinks', () => {
  it('keeps the edges along the branch only', () => {
    const on = branchLinks(links, ['a1']).map((l) => `${l.source}>${l.target}`).sort()
    expect(on).toEqual(['a1>a1x', 'a1>m', 'a>a1', 'root>a'])
  })
})

describe('branchStory', () => {
  it('reads from the root prompt to the newest output', () => {
    const created: Record<string, number> = { root: 1, a: 2, b: 3, a1: 4, a2: 5, m: 6, a1x: 7 }
    expect(branchStory(links, 'a1', (id) => created[id] ?? 0)).toEqual(['root', 'a', 'a1', 'm', 'a1x'])
    expect(branchStory(links, 'm', (id) => created[id] ?? 0)).toEqual(['root', 'a', 'b', 'a1', 'm'])
  })

  it('is just the block when it has no edges, and survives cycles', () => {
    expect(branchStory(links, 'c')).toEqual(['c'])
    const story = branchStory([e('x', 'y'), e('y', 'x'), e('w', 'x')], 'x')
    expect(story[0]).toBe('w')
    expect(new Set(story)).toEqual(new Set(['w', 'x', 'y']))
    expect(story).toHaveLength(3)
  })
})
