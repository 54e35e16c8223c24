import { describe, expect, it } from 'vitest'
import { readPeople, selectionsByBlock, spotlightOf } from './presence'

describe('readPeople', () => {
  it('lists others, skipping self, the server entry and malformed entries', () => {
    const states = new Map<number, Record<string, unknown>>([
      [1, { user: { id: 'me', name: 'Me', color: '#111' } }],
      [2, { user: { id: 'u2', name: 'Zoe', color: '#175cd3' }, cursor: { x: 1, y: 2 }, selection: ['b1', 3], following: 'me' }],
      [3, { arbor: { server: 'p', saved: 'AA==' } }],
      [4, { cursor: { x: 1, y: 1 } }],
      [5, { user: { id: 'u5', name: 'Ann' }, viewport: { x: 0, y: 0, zoom: 2 }, cursor: { x: 'a', y: 1 } }],
    ])
    const people = readPeople(states, 1)
    expect(people.map((p) => p.user.name)).toEqual(['Ann', 'Zoe'])
    expect(people[1]).toMatchObject({ clientId: 2, cursor: { x: 1, y: 2 }, selection: ['b1'], following: 'me' })
    expect(people[0].cursor).toBeNull()
    expect(people[0].viewport).toEqual({ x: 0, y: 0, zoom: 2 })
    const sel = selectionsByBlock(people)
    expect(sel.get('b1')).toEqual(['#175cd3'])
  })
})

describe('spotlight', () => {
  it('reads the flag and picks the newest spotlight of someone who can be followed', () => {
    const states = new Map<number, Record<string, unknown>>([
      [2, { user: { id: 'a', name: 'Ada' }, spotlight: 100 }],
      [3, { user: { id: 'b', name: 'Ben' }, spotlight: 'yes' }],
      [4, { user: { id: 'c', name: 'Cy', noFollow: true }, spotlight: 300 }],
      [5, { user: { id: 'd', name: 'Dee' }, spotlight: 200 }],
    ])
    const people = readPeople(states, 1)
    expect(people.map((p) => p.spotlight)).toEqual([100, null, 300, 200])
    expect(spotlightOf(people)?.user.name).toBe('Dee')
    expect(spotlightOf(people.slice(0, 2))?.user.name).toBe('Ada')
    expect(spotlightOf(people.slice(1, 3))).toBeNull()
  })
})
