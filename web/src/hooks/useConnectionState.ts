import { useSyncExternalStore } from 'react'
import { useArbor } from './useArbor'
import type { ConnState } from '../sync/connection'

export function useConnectionState(): ConnState {
  const { conn } = useArbor()
  return useSyncExternalStore(conn.subscribe, conn.getState)
}
