#!/usr/bin/env node
// The practical floor for bench/sync_load.py: a bare websocket relay with no CRDT.
// Every message a socket sends is forwarded to the other sockets of its room (the URL
// path), except a sync step 1, which is answered with an empty sync step 2 so the stock
// client reports "synced" (forwarding step 1 would make every client answer every
// joiner with its whole state, O(N^2) at join). Nothing is stored.
//
//   node relay.js PORT        (listens on 127.0.0.1, prints "ready" once listening)
'use strict'

const http = require('http')
const WS = require('ws')

const port = parseInt(process.argv[2] || '1235', 10)
const rooms = new Map()
const EMPTY_STEP2 = Buffer.from([0, 1, 2, 0, 0]) // sync, step 2, update of 2 bytes: empty

const server = http.createServer((_req, res) => { res.writeHead(200); res.end('relay') })
const wss = new WS.Server({ noServer: true, perMessageDeflate: false })

server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    const name = (req.url || '/').split('?')[0]
    let room = rooms.get(name)
    if (!room) rooms.set(name, (room = new Set()))
    room.add(ws)
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return
      if (data.length >= 2 && data[0] === 0 && data[1] === 0) { // sync step 1
        ws.send(EMPTY_STEP2)
        return
      }
      for (const other of room) {
        if (other !== ws && other.readyState === WS.OPEN) other.send(data, { binary: true })
      }
    })
    ws.on('close', () => {
      room.delete(ws)
      if (room.size === 0) rooms.delete(name)
    })
    ws.on('error', () => {})
  })
})

server.listen(port, '127.0.0.1', () => { process.stdout.write('ready\n') })
