import { useContext } from 'react'
import { ArborContext, type ArborContextValue } from '../sync/ArborContext'

export function useArbor(): ArborContextValue {
  const v = useContext(ArborContext)
  if (!v) throw new Error('useArbor outside <ArborContext.Provider>')
  return v
}
