#!/usr/bin/env node
// A stock yjs + y-websocket client (or several) driven over stdin/stdout with JSON lines.
//
// Request:  {"id": 1, "cmd": "connect", "client": "a", ...args}
// Reply:    {"id": 1, "ok": true, "result": ...}  or  {"id": 1, "ok": false, "error": "..."}
// Events:   {"event": "synced" | "status" | "close" | "closed" | "awareness", "client": "a", ...}
//
// One process may hold several named clients (each its own Y.Doc and WebsocketProvider);
// "client" defaults to "default". Nothing here talks to anything but the URL it is given.
'use strict'

const readline = require('readline')
const WS = require('ws')
const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')

// permessage-deflate only adds latency on loopback: turn it off, as load clients do.
class PlainWebSocket extends WS {
  constructor (address, protocols, options) {
    super(address, protocols, Object.assign({ perMessageDeflate: false }, options || {}))
  }
}

const LOCAL = Symbol('local-edit') // origin of this client's own edits (what undo tracks)
const clients = new Map()

function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function b64 (u8) {
  return Buffer.from(u8).toString('base64')
}

function awarenessStates (c) {
  const out = {}
  for (const [id, state] of c.provider.awareness.getStates()) out[String(id)] = state
  return out
}

function makeClient (name, args) {
  if (clients.has(name)) throw new Error(`client ${name} exists`)
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(args.url, args.room, doc, {
    params: args.token === undefined ? {} : { token: args.token },
    WebSocketPolyfill: PlainWebSocket,
    disableBc: true,
    connect: false,
    maxBackoffTime: 500
  })
  const c = {
    name,
    doc,
    provider,
    status: 'disconnected',
    closes: [],
    undo: new Y.UndoManager([doc.getMap('blocks'), doc.getMap('edges'), doc.getMap('meta')], {
      trackedOrigins: new Set([LOCAL]),
      captureTimeout: 0
    })
  }
  provider.on('status', ({ status }) => {
    c.status = status
    emit({ event: 'status', client: name, status })
  })
  provider.on('sync', (synced) => emit({ event: 'synced', client: name, synced }))
  provider.on('connection-close', (ev) => {
    const close = ev ? { code: ev.code, reason: String(ev.reason || '') } : { code: null, reason: 'local' }
    c.closes.push(close)
    emit({ event: 'close', client: name, ...close })
  })
  provider.on('closed', (ev) => emit({ event: 'closed', client: name, code: ev.code, reason: ev.reason }))
  provider.awareness.on('change', () => {
    emit({ event: 'awareness', client: name, states: awarenessStates(c) })
  })
  if (args.awareness) {
    for (const [k, v] of Object.entries(args.awareness)) provider.awareness.setLocalStateField(k, v)
  }
  clients.set(name, c)
  provider.connect()
  return c
}

function get (name) {
  const c = clients.get(name)
  if (!c) throw new Error(`no client ${name}`)
  return c
}

function block (c, id) {
  const b = c.doc.getMap('blocks').get(id)
  if (!b) throw new Error(`no block ${id}`)
  return b
}

function edit (c, fn) {
  c.doc.transact(fn, LOCAL)
}

function dump (c) {
  const last = c.closes.length ? c.closes[c.closes.length - 1] : null
  return {
    client_id: c.doc.clientID,
    blocks: c.doc.getMap('blocks').toJSON(),
    edges: c.doc.getMap('edges').toJSON(),
    meta: c.doc.getMap('meta').toJSON(),
    state_vector: b64(Y.encodeStateVector(c.doc)),
    update: b64(Y.encodeStateAsUpdate(c.doc)),
    awareness: awarenessStates(c),
    status: c.status,
    synced: c.provider.synced,
    should_connect: c.provider.shouldConnect,
    last_close: last,
    closes: c.closes
  }
}

function waitSynced (c, timeoutMs) {
  if (c.provider.synced) return Promise.resolve(true)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.provider.off('sync', onSync)
      reject(new Error(`${c.name} not synced within ${timeoutMs} ms`))
    }, timeoutMs)
    function onSync (synced) {
      if (!synced) return
      clearTimeout(timer)
      c.provider.off('sync', onSync)
      resolve(true)
    }
    c.provider.on('sync', onSync)
  })
}

const commands = {
  connect (name, a) { makeClient(name, a); return true },
  wait_synced (name, a) { return waitSynced(get(name), a.timeout_ms || 10000) },
  insert (name, a) {
    const c = get(name)
    edit(c, () => block(c, a.block).get('text').insert(a.index, a.text))
    return true
  },
  delete (name, a) {
    const c = get(name)
    edit(c, () => block(c, a.block).get('text').delete(a.index, a.length))
    return true
  },
  create_block (name, a) {
    const c = get(name)
    edit(c, () => {
      const b = new Y.Map()
      b.set('kind', a.kind || 'text')
      b.set('x', a.x || 0)
      b.set('y', a.y || 0)
      b.set('status', 'idle')
      b.set('text', new Y.Text(a.text || ''))
      c.doc.getMap('blocks').set(a.block, b)
    })
    return true
  },
  remove_block (name, a) {
    const c = get(name)
    edit(c, () => c.doc.getMap('blocks').delete(a.block))
    return true
  },
  set (name, a) { // a field of a block (a.block) or of a root map (a.map: "meta" | "edges")
    const c = get(name)
    edit(c, () => {
      const target = a.block !== undefined ? block(c, a.block) : c.doc.getMap(a.map || 'meta')
      target.set(a.key, a.value)
    })
    return true
  },
  text (name, a) { return block(get(name), a.block).get('text').toString() },
  awareness (name, a) {
    const aw = get(name).provider.awareness
    if (a.state === null) aw.setLocalState(null)
    // setLocalStateField does nothing once the state is null: publish a whole state then
    else if (aw.getLocalState() === null) aw.setLocalState(Object.assign({}, a.fields || {}))
    else for (const [k, v] of Object.entries(a.fields || {})) aw.setLocalStateField(k, v)
    return true
  },
  dump (name) { return dump(get(name)) },
  disconnect (name) { get(name).provider.disconnect(); return true },
  reconnect (name, a) {
    const c = get(name)
    if (a.url) c.provider.serverUrl = a.url
    c.provider.connect()
    return true
  },
  undo (name) { get(name).undo.undo(); return true },
  redo (name) { get(name).undo.redo(); return true },
  destroy (name) {
    const c = get(name)
    c.provider.destroy()
    c.doc.destroy()
    clients.delete(name)
    return true
  }
}

async function handle (line) {
  let msg
  try {
    msg = JSON.parse(line)
  } catch (e) {
    emit({ event: 'error', error: `bad command line: ${line}` })
    return
  }
  const { id, cmd } = msg
  try {
    const fn = commands[cmd]
    if (!fn) throw new Error(`unknown command ${cmd}`)
    const result = await fn(msg.client || 'default', msg)
    emit({ id, ok: true, result })
  } catch (e) {
    emit({ id, ok: false, error: String(e && e.stack ? e.stack : e) })
  }
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => { if (line.trim()) handle(line) })
rl.on('close', () => {
  for (const c of clients.values()) c.provider.destroy()
  process.exit(0)
})
emit({ event: 'ready', pid: process.pid })
