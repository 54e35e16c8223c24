import type { Period } from '../../api/gallery'
import type { Tab } from './GalleryTabs'

/** Which listing the gallery shows, kept in its address (`/gallery?sort=top&period=day`)
 *  so that a link, a reload or Back shows the same one. */
export interface GalleryView { tab: Tab; period: Period }

const TABS: readonly Tab[] = ['new', 'top', 'following']
const PERIODS: readonly Period[] = ['day', 'week', 'all']

export function viewFromSearch(search: string): GalleryView {
  const q = new URLSearchParams(search)
  const sort = q.get('sort') as Tab | null
  const period = q.get('period') as Period | null
  return {
    tab: sort && TABS.includes(sort) ? sort : 'new',
    period: period && PERIODS.includes(period) ? period : 'week',
  }
}

export function searchOf(view: GalleryView): string {
  if (view.tab === 'new') return ''
  return view.tab === 'top' ? `?sort=top&period=${view.period}` : `?sort=${view.tab}`
}
