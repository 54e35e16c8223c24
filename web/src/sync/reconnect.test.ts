import { describe, expect, it } from 'vitest'
import { RECONNECT_BASE_MS, RECONNECT_MAX_MS, reconnectDelay, reconnectsWithJitter } from './reconnect'

/** A small seeded generator (mulberry32), so the test is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('reconnectDelay', () => {
  it('is the capped exponential step times 0.5 at the lowest and 1.5 at the highest random', () => {
    expect(reconnectDelay(0, { random: () => 0 })).toBe(RECONNECT_BASE_MS / 2)
    expect(reconnectDelay(0, { random: () => 0.5 })).toBe(RECONNECT_BASE_MS)
    expect(reconnectDelay(0, { random: () => 1 })).toBe(RECONNECT_BASE_MS * 1.5)
    expect(reconnectDelay(3, { random: () => 0.5 })).toBe(RECONNECT_BASE_MS * 8)
  })

  it('doubles with each attempt until the cap, then stays there', () => {
    const mid = (n: number) => reconnectDelay(n, { random: () => 0.5 })
    expect([0, 1, 2, 3, 4].map(mid)).toEqual([500, 1000, 2000, 4000, 8000])
    expect(mid(5)).toBe(RECONNECT_MAX_MS)
    expect(mid(6)).toBe(RECONNECT_MAX_MS)
    expect(mid(1000)).toBe(RECONNECT_MAX_MS)
    expect(reconnectDelay(1e9, { random: () => 1 })).toBe(RECONNECT_MAX_MS * 1.5)
  })

  it('honours a custom base and cap, and treats bad attempts as the first', () => {
    expect(reconnectDelay(2, { base: 100, max: 250, random: () => 0.5 })).toBe(250)
    expect(reconnectDelay(-3, { random: () => 0.5 })).toBe(500)
    expect(reconnectDelay(1.7, { random: () => 0.5 })).toBe(1000)
  })

  it('spreads many clients over the whole jitter range', () => {
    const random = seeded(42)
    for (const attempt of [0, 2, 7]) {
      const step = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** attempt)
      const delays = Array.from({ length: 2000 }, () => reconnectDelay(attempt, { random }))
      for (const d of delays) {
        expect(d).toBeGreaterThanOrEqual(step * 0.5)
        expect(d).toBeLessThanOrEqual(step * 1.5)
      }
      // Spread out: both ends of the range are used and few clients share a delay.
      expect(Math.min(...delays)).toBeLessThan(step * 0.55)
      expect(Math.max(...delays)).toBeGreaterThan(step * 1.45)
      expect(new Set(delays).size).toBeGreaterThan(Math.min(step, 2000) * 0.3)
      const mean = delays.reduce((a, b) => a + b, 0) / delays.length
      expect(Math.abs(mean - step)).toBeLessThan(step * 0.05)
    }
  })

  it('uses Math.random when no generator is given', () => {
    const seen = new Set(Array.from({ length: 50 }, () => reconnectDelay(4)))
    expect(seen.size).toBeGreaterThan(1)
    for (const d of seen) expect(d >= 4000 && d <= 12000).toBe(true)
  })
})

describe('reconnectsWithJitter', () => {
  it('takes over abnormal closes, server errors, restarts and "try later", and no code', () => {
    for (const code of [1005, 1006, 1011, 1012, 1013, 0, undefined, null]) {
      expect(reconnectsWithJitter(code)).toBe(true)
    }
  })

  it('leaves fatal and normal closes alone', () => {
    for (const code of [1000, 1001, 1003, 1009, 4099, 4400, 4401, 4403, 4404, 4413]) {
      expect(reconnectsWithJitter(code)).toBe(false)
    }
  })
})
