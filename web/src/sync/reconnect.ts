// Reconnecting with jitter. y-websocket's own backoff is the same for everyone, so after a
// server restart every browser would come back at the same instant; these delays spread
// them out. Pure, so it can be tested without a socket.

/** First delay (before jitter) and the cap of the exponential growth, in ms. */
export const RECONNECT_BASE_MS = 500
export const RECONNECT_MAX_MS = 10_000

/** Close codes after which this app reconnects on its own schedule: abnormal closure, no
 * status, server error (room could not load), restarting, try again later. */
const JITTERED = new Set([1005, 1006, 1011, 1012, 1013])

/** Whether a close with this code (undefined or 0: none given) is retried with jitter. */
export function reconnectsWithJitter(code: number | null | undefined): boolean {
  return !code || JITTERED.has(code)
}

/**
 * How long to wait before attempt number `attempt` (0 for the first retry):
 * `min(max, base · 2^attempt) · (0.5 + random())`, i.e. between half and one and a half
 * times the capped exponential step.
 */
export function reconnectDelay(attempt: number, opts: {
  base?: number
  max?: number
  random?: () => number
} = {}): number {
  const base = opts.base ?? RECONNECT_BASE_MS
  const max = opts.max ?? RECONNECT_MAX_MS
  const random = opts.random ?? Math.random
  const n = Math.max(0, Math.floor(attempt))
  // 2^n overflows to Infinity for huge n; min() keeps the cap.
  const step = Math.min(max, base * 2 ** Math.min(n, 64))
  const r = Math.min(Math.max(random(), 0), 1)
  return Math.round(step * (0.5 + r))
}
