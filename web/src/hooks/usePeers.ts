import { useEffect, useState } from 'react'
import { useArbor } from './useArbor'
import { readPeople, type Person } from '../sync/presence'

/** The other people on this canvas (server entries left out), at most once per frame. */
export function usePeers(): Person[] {
  const { conn } = useArbor()
  const awareness = conn.provider.awareness
  const [people, setPeople] = useState<Person[]>([])
  useEffect(() => {
    let frame = 0
    const update = () => {
      frame = 0
      setPeople(readPeople(awareness.getStates() as Map<number, Record<string, unknown>>, awareness.clientID))
    }
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(update)
    }
    update()
    awareness.on('change', schedule)
    return () => {
      awareness.off('change', schedule)
      if (frame) cancelAnimationFrame(frame)
    }
  }, [awareness])
  return people
}
