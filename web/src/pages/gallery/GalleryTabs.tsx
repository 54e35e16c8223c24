import type { Period } from '../../api/gallery'

export type Tab = 'new' | 'top' | 'following'
const TABS: { id: Tab; label: string }[] = [
  { id: 'new', label: 'New' },
  { id: 'top', label: 'Top' },
  { id: 'following', label: 'Following' },
]
const PERIODS: { id: Period; label: string }[] = [
  { id: 'day', label: 'Today' },
  { id: 'week', label: 'This week' },
  { id: 'all', label: 'All time' },
]

/** Browsing without a search: the newest posts, the most liked of a period, or the posts
 *  of people you follow. */
export function GalleryTabs({ tab, setTab, period, setPeriod }: {
  tab: Tab
  setTab: (t: Tab) => void
  period: Period
  setPeriod: (p: Period) => void
}) {
  return (
    <nav className="gallery-tabs" aria-label="Browse the gallery">
      <div className="tabs" role="tablist" aria-label="Which posts">
        {TABS.map((t) => (
          <button key={t.id} role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'active' : ''}
            onClick={() => setTab(t.id)}>{t.label}</button>
        ))}
      </div>
      {tab === 'top' && (
        <div className="periods" role="group" aria-label="Top of">
          {PERIODS.map((p) => (
            <button key={p.id} aria-pressed={period === p.id} className={period === p.id ? 'active' : ''}
              onClick={() => setPeriod(p.id)}>{p.label}</button>
          ))}
        </div>
      )}
    </nav>
  )
}
