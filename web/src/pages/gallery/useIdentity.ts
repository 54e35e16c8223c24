import { useEffect, useState } from 'react'
import { getIdentity, type Identity } from '../../api/gallery'

/** This browser's gallery identity: undefined while loading, null without a handle. */
export function useIdentity(): [Identity | null | undefined, (i: Identity | null) => void] {
  const [identity, setIdentity] = useState<Identity | null | undefined>(undefined)
  useEffect(() => {
    const ctrl = new AbortController()
    getIdentity(ctrl.signal).then(setIdentity, () => { if (!ctrl.signal.aborted) setIdentity(null) })
    return () => ctrl.abort()
  }, [])
  return [identity, setIdentity]
}
