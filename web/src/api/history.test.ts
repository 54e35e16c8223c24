import { describe, expect, it } from 'vitest'
import { authorsLabel, checkpointSummary, clockTime, layoutPreview, reasonLabel, relativeTime, type Checkpoint } from './history'

describe('relativeTime', () => {
  const now = Date.parse('2024-05-10T12:00:00Z')
  const ago = (s: number) => new Date(now - s * 1000).toISOString()
  it('says how long ago in words a person reads at a glance', () => {
    expect(relativeTime(ago(5), now)).toBe('just now')
    expect(relativeTime(ago(-30), now)).toBe('just now') // a server clock slightly ahead
    expect(relativeTime(ago(60), now)).toBe('1 min ago')
    expect(relativeTime(ago(12 * 60 + 10), now)).toBe('12 min ago')
    expect(relativeTime(ago(3 * 3600), now)).toBe('3 h ago')
    expect(relativeTime(ago(30 * 3600), now)).toBe('yesterday')
    expect(relativeTime(ago(5 * 86400), now)).toBe('5 days ago')
    expect(relativeTime(ago(40 * 86400), now)).toMatch(/2024/)
    expect(relativeTime('not a date', now)).toBe('not a date')
  })
})

describe('labels', () => {
  it('names every reason the server gives', () => {
    expect(reasonLabel('before_restore')).toBe('Before restore')
    expect(reasonLabel('auto')).toBe('Autosave')
    expect(reasonLabel('unload')).toBe('Everyone left')
    expect(reasonLabel('manual')).toBe('Saved by hand')
    expect(reasonLabel('some_new_reason')).toBe('Some new reason')
  })

  it('lists who changed it briefly', () => {
    expect(authorsLabel([])).toBe('someone')
    expect(authorsLabel(['Ada'])).toBe('Ada')
    expect(authorsLabel(['Ada', 'Ben'])).toBe('Ada and Ben')
    expect(authorsLabel(['Ada', 'Ben', 'Cy'])).toBe('Ada, Ben and Cy')
    expect(authorsLabel(['Ada', 'Ben', 'Cy', 'Di', ''])).toBe('Ada, Ben and 2 others')
  })

  it('never names the server as a person', () => {
    expect(authorsLabel(['Arbor', 'Ben'])).toBe('Ben and tool runs')
    expect(authorsLabel(['Ben', 'restore'])).toBe('Ben')
    expect(authorsLabel(['Arbor'])).toBe('tool runs')
  })
})

describe('checkpointSummary', () => {
  const now = new Date(2024, 4, 10, 18, 30).getTime()
  const at = (h: number, m: number) => new Date(2024, 4, 10, h, m).toISOString()
  const cp = (over: Partial<Checkpoint>): Checkpoint =>
    ({ id: 1, reason: 'auto', authors: [], size: 10, created_at: at(18, 20), ...over })

  it('says who restored which version', () => {
    const c = cp({ reason: 'before_restore', authors: ['Bob', 'restore'],
      restore: { by: 'Alice', to: 7, to_created_at: at(18, 5) } })
    expect(checkpointSummary(c, now)).toEqual({ who: 'Alice restored 18:05', why: 'the canvas just before' })
    expect(checkpointSummary(cp({ reason: 'before_restore' }), now).who).toBe('Someone restored an earlier version')
  })

  it('says who worked, tool runs included, and why it was kept', () => {
    expect(checkpointSummary(cp({ reason: 'unload', authors: ['Ada', 'Arbor', 'Ben'] }), now))
      .toEqual({ who: 'Ada and Ben worked, with tool runs', why: 'kept when everyone left' })
    expect(checkpointSummary(cp({ authors: ['Arbor'] }), now)).toEqual({ who: 'Tool runs', why: 'kept while working' })
    expect(checkpointSummary(cp({ authors: [] }), now).who).toBe('No one changed it')
  })

  it('gives clock times on a 24-hour clock, with the day when it is not today', () => {
    expect(clockTime(at(9, 5), now)).toBe('09:05')
    expect(clockTime(new Date(2024, 4, 8, 21, 0).toISOString(), now)).toMatch(/8.*21:00/)
  })
})

describe('layoutPreview', () => {
  it('scales the bounding box down to fit, keeping proportions and positions', () => {
    const out = layoutPreview({
      a: { x: 100, y: 100, w: 200, h: 100 },
      b: { x: 900, y: 500, w: 200, h: 100 },
    }, 300, 300, 0)
    // Span 1000 × 500 into 300 × 300: width-bound, scale 0.3.
    expect(out.scale).toBeCloseTo(0.3)
    expect(out.width).toBe(300)
    expect(out.height).toBe(150)
    const [a, b] = out.rects
    expect([a.left, a.top, a.width, a.height]).toEqual([0, 0, 60, 30])
    expect(b.left).toBeCloseTo(240)
    expect(b.top).toBeCloseTo(120)
  })

  it('never enlarges a small canvas, and tolerates missing or bad numbers', () => {
    const out = layoutPreview({ a: { x: -50, y: 10, w: 100, h: 50 }, b: { x: 'x' as unknown as number } }, 400, 400, 8)
    expect(out.scale).toBe(1)
    expect(out.rects.every((r) => Number.isFinite(r.left) && Number.isFinite(r.width))).toBe(true)
    expect(layoutPreview({}, 300, 200).rects).toEqual([])
  })
})
