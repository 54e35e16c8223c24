#!/usr/bin/env node
// Cursor load for bench/cursors.py: N stock y-websocket clients in one room, each moving its
// cursor R times a second through awareness. Every client records how long each other
// client's cursor took to reach it (the send time rides in the state; all processes on the
// machine share the monotonic clock). Prints one JSON line with the figures (latencies as a
// histogram of 0.5 ms buckets, so several processes' figures can be merged) and exits.
//   node cursors.js URL ROOM PARAMS_JSON N RATE SECONDS [FIRST TOTAL]
// FIRST/TOTAL: this process holds people FIRST..FIRST+N-1 of TOTAL in the room.
'use strict'

const WS = require('ws')
const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')

class PlainWebSocket extends WS {
  constructor (address, protocols, options) {
    super(address, protocols, Object.assign({ perMessageDeflate: false }, options || {}))
  }
}
if (typeof globalThis.WebSocket === 'undefined') globalThis.WebSocket = WS

const [url, room, paramsJson, nArg, rateArg, secondsArg, firstArg, totalArg] =
  process.argv.slice(2)
const n = Number(nArg)
const first = Number(firstArg || 0)
const total = Number(totalArg || nArg)
const rate = Number(rateArg)
const seconds = Number(secondsArg)
const now = () => Number(process.hrtime.bigint()) / 1e6
const latencies = []
let measuring = false
let sent = 0
const providers = []

for (let i = 0; i < n; i++) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(url, room, doc, {
    WebSocketPolyfill: PlainWebSocket, disableBc: true, params: JSON.parse(paramsJson)
  })
  const aw = provider.awareness
  const name = `c${first + i}`
  aw.setLocalState({ user: { id: name, name }, cursor: { x: 0, y: 0, t: now() } })
  aw.on('change', ({ added, updated }) => {
    if (!measuring) return
    const t = now()
    const states = aw.getStates()
    for (const id of added.concat(updated)) {
      if (id === doc.clientID) continue
      const c = (states.get(id) || {}).cursor
      if (c && typeof c.t === 'number') latencies.push(t - c.t)
    }
  })
  providers.push(provider)
}

function pct (sorted, q) {
  if (!sorted.length) return null
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

setTimeout(() => {
  // Moves start staggered so n clients do not all move in the same millisecond.
  providers.forEach((p, i) => {
    setTimeout(() => {
      setInterval(() => {
        p.awareness.setLocalStateField('cursor', { x: Math.random() * 1000, y: Math.random() * 1000, t: now() })
        if (measuring) sent++
      }, 1000 / rate)
    }, ((first + i) * 1000 / rate / total))
  })
  setTimeout(() => { measuring = true }, 2000)
  setTimeout(() => {
    measuring = false
    const s = latencies.slice().sort((a, b) => a - b)
    const connected = providers.filter((p) => p.wsconnected).length
    const hist = {}
    for (const x of s) {
      const b = Math.floor(x * 2)
      hist[b] = (hist[b] || 0) + 1
    }
    process.stdout.write(JSON.stringify({
      p50: pct(s, 0.5), p99: pct(s, 0.99), max: s.length ? s[s.length - 1] : null,
      seen: s.length, sent, expected: sent * (total - 1), connected, hist
    }) + '\n', () => process.exit(0)) // a pipe is written asynchronously: exit once done
  }, 2000 + seconds * 1000)
}, 3000)
