#!/usr/bin/env node
// Cursor load for bench/cursors.py: N stock y-websocket clients in one room, each moving its
// cursor R times a second through awareness. Every client records how long each other
// client's cursor took to reach it (the send time rides in the state; all processes on the
// machine share the monotonic clock). Prints one JSON line with the figures and exits.
//   node cursors.js URL ROOM PARAMS_JSON N RATE SECONDS
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

const [url, room, paramsJson, nArg, rateArg, secondsArg] = process.argv.slice(2)
const n = Number(nArg)
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
  aw.setLocalState({ user: { id: `c${i}`, name: `c${i}` }, cursor: { x: 0, y: 0, t: now() } })
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
    }, (i * 1000 / rate / n))
  })
  setTimeout(() => { measuring = true }, 2000)
  setTimeout(() => {
    measuring = false
    const s = latencies.slice().sort((a, b) => a - b)
    const connected = providers.filter((p) => p.wsconnected).length
    process.stdout.write(JSON.stringify({
      p50: pct(s, 0.5), p99: pct(s, 0.99), max: s.length ? s[s.length - 1] : null,
      seen: s.length, sent, expected: sent * (n - 1), connected
    }) + '\n')
    process.exit(0)
  }, 2000 + seconds * 1000)
}, 3000)
