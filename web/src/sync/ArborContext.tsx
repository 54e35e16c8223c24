// The single document provider: everything below reads the canvas through hooks.
import { createContext } from 'react'
import type { Connection } from './connection'
import type { Role } from '../api/rooms'
import type { Identity } from '../lib/identity'
import type { Notify } from '../canvas/Toasts'

export interface ArborContextValue {
  conn: Connection
  room: string
  token: string
  role: Role
  readOnly: boolean
  identity: Identity
  setIdentity: (i: Identity) => void
  notify: Notify
}

export const ArborContext = createContext<ArborContextValue | null>(null)
