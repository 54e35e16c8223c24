import { describe, expect, it } from 'vitest'
import { searchOf, viewFromSearch } from './galleryView'

describe('gallery view in the address', () => {
  it('round-trips every view', () => {
    for (const tab of ['new', 'top', 'following'] as const) {
      for (const period of ['day', 'week', 'all'] as const) {
        const view = { tab, period: tab === 'top' ? period : 'week' as const }
        expect(viewFromSearch(searchOf(view))).toEqual(view)
      }
    }
  })
  it('falls back to New and this week for anything else', () => {
    expect(viewFromSearch('?sort=hot&period=year')).toEqual({ tab: 'new', period: 'week' })
    expect(viewFromSearch('')).toEqual({ tab: 'new', period: 'week' })
  })
})
