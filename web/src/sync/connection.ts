// One canvas connection: the Y.Doc, the stock y-websocket provider, the IndexedDB cache,
// this person's undo history, and the connection state as a tiny external store.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { IndexeddbPersistence } from 'y-indexeddb'
import { BLOCKS, EDGES, META, PROTOCOL_VERSION } from './schema'
import { reconnectDelay, reconnectsWithJitter } from './reconnect'
import { decodeBase64, readServerPresence } from './saved'
import { browserStorage, restoreStashes, writeStash } from './stash'
import { cacheName, setCacheToken } from './cacheCheck'

export type ConnStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'stopped'

export interface ConnState {
  status: ConnStatus
  synced: boolean
  /** Why the server closed for good (no reconnecting), as a sentence. */
  fatal: { code: number; message: string } | null
  /** Seconds until the next reconnect attempt while one is scheduled, else null. */
  retryIn: number | null
}

const FATAL: Record<number, string> = {
  4401: 'This link is not valid for this canvas (it may have been rotated). Ask for a new link.',
  4403: 'The server refused this connection: a view link cannot make changes, or this site is not allowed.',
  4404: 'There is no such canvas. Check the link.',
  4413: 'This canvas is full: it cannot take more content.',
  4400: 'The server could not understand this app. Reload the page.',
  4099: 'This app and the server speak different versions. Reload the page to get the current app.',
  1009: 'A change was too large to send, so the connection stopped. Reload the page.',
}

/** A sentence for a close code that means "do not reconnect", or null (reconnect). */
export function fatalCloseMessage(code: number): string | null {
  if (code in FATAL) return FATAL[code]
  if (code >= 4400 && code < 4500) return `The server closed the connection (code ${code}).`
  return null
}

export function isFatalClose(code: number): boolean {
  return fatalCloseMessage(code) !== null
}

/** Origin of changes a closed tab's stash brings back: not an edit this person can undo. */
export const STASH_ORIGIN = 'arbor:stash'

export class Connection {
  readonly doc = new Y.Doc()
  /** Origin of every change this person makes; the undo manager tracks only it. */
  readonly localOrigin = { name: 'local' }
  readonly provider: WebsocketProvider
  /** This browser's cache of the canvas; null until attached (see `holdingCache`). */
  idb: IndexeddbPersistence | null = null
  /** The cache waits for the person to decide about edits kept from before the links were
   * rotated (sync/cacheCheck.ts; `attachCache` ends the wait). */
  readonly holdingCache: boolean
  readonly undoManager: Y.UndoManager
  readonly blocks: Y.Map<Y.Map<unknown>>
  readonly edges: Y.Map<Y.Map<unknown>>
  readonly meta: Y.Map<unknown>
  private state: ConnState = { status: 'connecting', synced: false, fatal: null, retryIn: null }
  private listeners = new Set<() => void>()
  private everConnected = false
  /** Reconnects after transient closes, on this app's jittered schedule (not the provider's). */
  private attempt = 0
  private retryTimer: number | null = null
  private retryTick: number | null = null
  /** This tab's key for its stash of unsaved changes (see stash.ts). */
  private readonly tab = Math.random().toString(36).slice(2, 10)
  /** The state vector the server last said it stored, as it sent it (base64; kept after
   * the connection goes). Decoded only when a stash is written. */
  private lastSaved: string | null = null

  /** `readOnly` (a view link): a cache of its own, and no stash. A view link sends no
   * changes, so the edits an edit link left unsent in this browser stay in the edit
   * link's cache for its next visit, instead of being offered to the server (which would
   * refuse them, and close the view). */
  constructor(readonly room: string, public token: string, wsBase: string,
    private readonly opts: { readOnly?: boolean; holdCache?: boolean } = {}) {
    this.blocks = this.doc.getMap(BLOCKS)
    this.edges = this.doc.getMap(EDGES)
    this.meta = this.doc.getMap(META)
    this.undoManager = new Y.UndoManager([this.blocks, this.edges, this.meta], {
      trackedOrigins: new Set([this.localOrigin]),
      captureTimeout: 400,
    })
    this.holdingCache = !opts.readOnly && opts.holdCache === true
    if (!this.holdingCache) this.attachCache()
    this.provider = new WebsocketProvider(`${wsBase}/sync`, room, this.doc, {
      params: { token, protocol: String(PROTOCOL_VERSION), saved: '1' },
      disableBc: true,
      shouldReconnect: (event: CloseEvent) => !isFatalClose(event.code),
    })
    this.provider.on('status', ({ status }) => {
      if (status === 'connected') this.everConnected = true
      this.set({ status: this.mapStatus(status) })
    })
    this.provider.on('sync', (synced: boolean) => {
      if (synced) this.attempt = 0
      this.set({ synced })
    })
    this.provider.on('connection-close', (event: CloseEvent | null) => {
      if (event == null) return
      const message = fatalCloseMessage(event.code)
      if (message) {
        this.cancelRetry()
        this.provider.shouldConnect = false
        this.set({ status: 'stopped', fatal: { code: event.code, message } })
      } else if (reconnectsWithJitter(event.code)) {
        // Emitted before the provider schedules its own retry: make that a no-op, use ours.
        this.provider.shouldConnect = false
        this.scheduleRetry()
      }
    })
    this.provider.awareness.on('change', this.onAwareness)
    window.addEventListener('online', this.onNetwork)
    window.addEventListener('offline', this.onNetwork)
    window.addEventListener('pagehide', this.stash)
    document.addEventListener('visibilitychange', this.onVisibility)
  }

  /** Use this browser's cache: first what closed tabs stashed (stash.ts), so IndexedDB
   * stores it too, then IndexedDB, whose content merges into the document (and so reaches
   * the server). Remembers the edit token the cache now goes with. */
  attachCache(): void {
    if (this.idb) return
    const storage = this.opts.readOnly ? null : browserStorage()
    if (storage) {
      restoreStashes(storage, this.room, this.doc, STASH_ORIGIN)
      setCacheToken(storage, this.room, this.token)
    }
    try {
      const cache = this.opts.readOnly ? `arbor:view:${this.room}` : cacheName(this.room)
      if (typeof indexedDB !== 'undefined') this.idb = new IndexeddbPersistence(cache, this.doc)
    } catch {
      this.idb = null
    }
    if (this.listeners.size) this.set({})
  }

  private onAwareness = () => {
    this.provider.awareness.getStates().forEach((state) => {
      const p = readServerPresence(state)
      if (p) this.lastSaved = p.saved
    })
  }

  /** Keep what the server has not confirmed in this browser's storage, synchronously. */
  stash = () => {
    const storage = this.opts.readOnly ? null : browserStorage()
    if (!storage) return
    let saved: Uint8Array | null = null
    try {
      saved = this.lastSaved == null ? null : decodeBase64(this.lastSaved)
    } catch {
      saved = null // not base64: stash everything
    }
    writeStash(storage, this.room, this.tab, this.doc, saved)
  }

  private onVisibility = () => {
    if (document.visibilityState === 'hidden') this.stash()
  }

  private mapStatus(s: 'connected' | 'connecting' | 'disconnected'): ConnStatus {
    if (this.state.fatal) return 'stopped'
    if (typeof navigator !== 'undefined' && navigator.onLine === false) return 'offline'
    if (s === 'connected') return 'connected'
    return this.everConnected ? 'reconnecting' : 'connecting'
  }

  private onNetwork = () => {
    if (navigator.onLine === false) {
      // Offline: drop the socket (it may linger half-dead); edits stay in this browser
      // (IndexedDB) until the network is back.
      this.cancelRetry()
      this.provider.disconnect()
    } else if (!this.state.fatal && (this.retryTimer != null || !this.provider.wsconnected)) {
      // Back online: no need to sit out the rest of a backoff meant for a busy server.
      this.cancelRetry()
      this.provider.connect()
    }
    this.set({ status: this.mapStatus(this.provider.wsconnected ? 'connected' : 'connecting') })
  }

  private set(patch: Partial<ConnState>) {
    this.state = { ...this.state, ...patch }
    this.listeners.forEach((l) => l())
  }

  getState = (): ConnState => this.state

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }

  /** Reconnect after a jittered, growing delay, counting down in `retryIn`. */
  private scheduleRetry(): void {
    this.cancelRetry()
    const delay = reconnectDelay(this.attempt++)
    const at = Date.now() + delay
    const tick = () => this.set({ retryIn: Math.max(1, Math.ceil((at - Date.now()) / 1000)) })
    tick()
    this.retryTick = window.setInterval(tick, 1000)
    this.retryTimer = window.setTimeout(() => {
      this.cancelRetry()
      this.provider.connect()
    }, delay)
  }

  private cancelRetry(): void {
    if (this.retryTimer != null) window.clearTimeout(this.retryTimer)
    if (this.retryTick != null) window.clearInterval(this.retryTick)
    this.retryTimer = this.retryTick = null
    if (this.state.retryIn != null) this.set({ retryIn: null })
  }

  /** Try again after a fatal close (e.g. after the link changed). */
  retry(): void {
    this.cancelRetry()
    this.attempt = 0
    this.set({ fatal: null, status: 'connecting' })
    this.provider.connect()
  }

  /** Use a new link token (after rotating the links): reconnect with it. */
  updateToken(token: string): void {
    this.token = token
    // This person made the new links: what the cache holds is theirs to keep.
    if (this.idb && !this.opts.readOnly) setCacheToken(browserStorage(), this.room, token)
    this.provider.params = { ...this.provider.params, token }
    this.provider.disconnect()
    this.cancelRetry()
    this.attempt = 0
    this.set({ fatal: null, status: 'connecting' })
    this.provider.connect()
  }

  /** Run an edit as this person: undoable, tagged with the local origin. */
  transact<T>(fn: () => T): T {
    let out!: T
    this.doc.transact(() => {
      out = fn()
    }, this.localOrigin)
    return out
  }

  destroy(): void {
    this.cancelRetry()
    window.removeEventListener('online', this.onNetwork)
    window.removeEventListener('offline', this.onNetwork)
    window.removeEventListener('pagehide', this.stash)
    document.removeEventListener('visibilitychange', this.onVisibility)
    this.provider.awareness.off('change', this.onAwareness)
    this.undoManager.destroy()
    this.provider.awareness.setLocalState(null)
    this.provider.destroy()
    void this.idb?.destroy()
    this.doc.destroy()
  }
}
