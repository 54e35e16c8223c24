#!/usr/bin/env node
// Load clients for bench/sync_load.py: many stock yjs + y-websocket clients in one Node
// process, driven by JSON lines on stdin, answered by id on stdout.
//
// Every update a writer makes pushes [writer, seq, sentAtMs] onto the Y.Array "bench" in
// its own transaction; every other client of the room records (now - sentAtMs) when the
// item arrives. Times are process.hrtime (CLOCK_MONOTONIC), which every process on the
// machine shares, so a writer in one process and readers in another agree on the clock.
// Load clients publish no awareness (stock clients re-send every awareness change they
// see, which through a bare relay grows traffic ~N^3) and use no permessage-deflate.
'use strict'

const readline = require('readline')
const WS = require('ws')
const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')

class PlainWebSocket extends WS {
  constructor (address, protocols, options) {
    super(address, protocols, Object.assign({ perMessageDeflate: false }, options || {}))
  }
}

// y-websocket's resync timer reads the global WebSocket.OPEN, which Node 20 lacks
if (typeof globalThis.WebSocket === 'undefined') globalThis.WebSocket = WS

const now = () => Number(process.hrtime.bigint()) / 1e6
const clients = new Map()
let since = Infinity // items stamped before this are not counted
let latencies = []
let stamps = [] // when each counted item was written (ms, same clock), for windowed tails
let received = 0
let closes = 0

function emit (obj) { process.stdout.write(JSON.stringify(obj) + '\n') }

function makeClient (spec) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(spec.url, spec.room, doc, {
    connect: false,
    WebSocketPolyfill: PlainWebSocket,
    disableBc: true,
    params: spec.params || {},
    // a writer that receives nothing would close after 30 s of silence: resync keeps it fed
    resyncInterval: spec.resync_ms || -1,
    maxBackoffTime: 1000
  })
  provider.awareness.setLocalState(null)
  const arr = doc.getArray('bench')
  const text = doc.getText('benchtext')
  const c = { id: spec.id, numId: clients.size, doc, provider, arr, text, seq: 0, opened: false }
  arr.observe((ev) => {
    if (ev.transaction.local) return
    const t = now()
    for (const d of ev.changes.delta) {
      if (!d.insert) continue
      for (const item of d.insert) {
        if (Array.isArray(item) && item[2] >= since) {
          latencies.push(t - item[2])
          stamps.push(item[2])
          received++
        }
      }
    }
  })
  provider.on('status', ({ status }) => { if (status === 'connected') c.opened = true })
  provider.on('connection-close', () => { closes++ })
  clients.set(spec.id, c)
  return c
}

function waitFor (c, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now()
    const check = () => {
      const ok = what === 'open' ? c.opened : c.provider.synced
      if (ok) return resolve(true)
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`${c.id}: not ${what} within ${timeoutMs} ms`))
      setTimeout(check, 5)
    }
    check()
  })
}

function get (id) {
  const c = clients.get(id)
  if (!c) throw new Error(`no client ${id}`)
  return c
}

function write (c, t) {
  c.doc.transact(() => { c.arr.push([[c.numId, c.seq++, t]]) })
}

const commands = {
  // {clients: [{id, url, room, params, resync_ms}], wait: "synced"|"open", concurrency, timeout_ms}
  async connect (a) {
    const specs = a.clients
    const conc = a.concurrency || 50
    const t0 = now()
    let failed = 0
    for (let i = 0; i < specs.length; i += conc) {
      const batch = specs.slice(i, i + conc).map((s) => {
        const c = makeClient(s)
        c.provider.connect()
        return waitFor(c, a.wait || 'synced', a.timeout_ms || 20000).catch(() => { failed++ })
      })
      await Promise.all(batch)
    }
    return { connected: specs.length - failed, failed, ms: now() - t0 }
  },
  mark () {
    since = now()
    latencies = []
    stamps = []
    received = 0
    closes = 0
    return since
  },
  // {writers: [id], rate: updates/s per writer, duration_ms}: stamped pushes, phases spread
  write (a) {
    const ws = a.writers.map(get)
    const rate = a.rate
    const t0 = now()
    const sent = ws.map(() => 0)
    const phase = ws.map((_, i) => (i / ws.length) * (1000 / rate))
    return new Promise((resolve) => {
      const tick = () => {
        const t = now()
        const elapsed = Math.min(t - t0, a.duration_ms)
        for (let i = 0; i < ws.length; i++) {
          const due = elapsed < phase[i] ? 0 : Math.floor(((elapsed - phase[i]) * rate) / 1000) + 1
          while (sent[i] < due) {
            write(ws[i], now())
            sent[i]++
          }
        }
        if (t - t0 >= a.duration_ms) {
          clearInterval(timer)
          resolve({ sent: sent.reduce((x, y) => x + y, 0), ms: now() - t0 })
        }
      }
      const timer = setInterval(tick, 2)
    })
  },
  stats () {
    return {
      received,
      closes,
      lat: latencies.map((x) => Math.round(x * 100) / 100),
      at: stamps.map((x) => Math.round(x))
    }
  },
  // {client, n, chunk}: n single-character inserts into Y.Text "benchtext", one update each
  async fill (a) {
    const c = get(a.client)
    const chunk = a.chunk || 200
    const t0 = now()
    for (let i = 0; i < a.n; i++) {
      c.doc.transact(() => { c.text.insert(c.text.length, String.fromCharCode(97 + (i % 26))) })
      if (i % chunk === chunk - 1) await new Promise((resolve) => setTimeout(resolve, a.pause_ms || 1))
    }
    return { ms: now() - t0 }
  },
  // {client, n, timeout_ms}: wait until this client's text has n characters
  wait_len (a) {
    const c = get(a.client)
    const t0 = now()
    return new Promise((resolve, reject) => {
      const check = () => {
        if (c.text.length >= a.n) return resolve({ ms: now() - t0, len: c.text.length })
        if (now() - t0 > a.timeout_ms) return reject(new Error(`text has ${c.text.length} of ${a.n}`))
        setTimeout(check, 5)
      }
      check()
    })
  },
  // {client, url, room, params, n, timeout_ms}: a new client; ms until synced with n characters
  async join (a) {
    const t0 = now()
    const c = makeClient({ id: a.client, url: a.url, room: a.room, params: a.params })
    c.provider.connect()
    try {
      await waitFor(c, 'synced', a.timeout_ms || 60000)
      await commands.wait_len({ client: a.client, n: a.n, timeout_ms: a.timeout_ms || 60000 })
      return { ms: now() - t0 }
    } finally {
      commands.destroy({ ids: [a.client] })
    }
  },
  destroy (a) {
    for (const id of a.ids || Array.from(clients.keys())) {
      const c = clients.get(id)
      if (!c) continue
      c.provider.destroy()
      c.doc.destroy()
      clients.delete(id)
    }
    return true
  }
}

async function handle (line) {
  let msg
  try { msg = JSON.parse(line) } catch (e) { return }
  try {
    const fn = commands[msg.cmd]
    if (!fn) throw new Error(`unknown command ${msg.cmd}`)
    emit({ id: msg.id, ok: true, result: await fn(msg) })
  } catch (e) {
    emit({ id: msg.id, ok: false, error: String(e && e.stack ? e.stack : e) })
  }
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => { if (line.trim()) handle(line) })
rl.on('close', () => {
  commands.destroy({})
  process.exit(0)
})
emit({ event: 'ready', pid: process.pid })
