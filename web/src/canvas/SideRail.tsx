// The canvas's secondary panels in one place: a rail of buttons at the right edge (queue,
// history, prompts, spend, keys, and someone's branch while watching it) and the one open
// panel beside it. On a phone the rail is hidden and the top bar's menu opens the panels,
// which then cover the canvas as a sheet.
import type { ReactNode } from 'react'
import type { Job } from '../api/jobs'
import type { Person } from '../sync/presence'
import { lazyPanel } from '../lib/lazyPanel'
import { PromptEditor } from './PromptEditor'
import { BranchPanel } from './BranchPanel'
import { Icon } from './icons'
import './rail.css'

// Loaded when first opened (chunks of their own): not part of the canvas's first load.
const QueuePanel = lazyPanel(() => import('./QueuePanel').then((m) => m.QueuePanel))
const HistoryPanel = lazyPanel(() => import('./HistoryPanel').then((m) => m.HistoryPanel))
const UsagePanel = lazyPanel(() => import('./UsagePanel').then((m) => m.UsagePanel))
const KeysDialog = lazyPanel(() => import('./KeysDialog').then((m) => m.KeysDialog))

export type PanelId = 'queue' | 'history' | 'prompts' | 'spend' | 'keys' | 'branch'

export interface RailEntry { id: PanelId; label: string; hint: string }

/** The panels this person can open, in rail order. */
export function railEntries(readOnly: boolean, watching: string | null): RailEntry[] {
  const all: (RailEntry | null)[] = [
    { id: 'queue', label: 'Queue', hint: 'Jobs of this canvas: waiting, running, finished' },
    { id: 'history', label: 'History', hint: 'Earlier versions of this canvas: preview and restore' },
    { id: 'prompts', label: 'Prompts', hint: 'This canvas’s tool prompts' },
    { id: 'spend', label: 'Spend', hint: 'What this canvas has spent' },
    readOnly ? null : { id: 'keys', label: 'Keys', hint: 'Bring this canvas’s own API keys' },
    watching ? { id: 'branch', label: 'Branch', hint: `${watching}’s branch, as a story` } : null,
  ]
  return all.filter((e): e is RailEntry => e != null)
}

export function SideRail({ open, onOpen, readOnly, activeJobs, watching }: {
  open: PanelId | null
  onOpen: (id: PanelId | null) => void
  readOnly: boolean
  activeJobs: number
  /** The name of the person whose branch is watched, if any. */
  watching: string | null
}) {
  return (
    <nav className="side-rail" aria-label="Panels">
      {railEntries(readOnly, watching).map((e) => (
        <button key={e.id} className={`rail-button${open === e.id ? ' on' : ''}`} title={e.hint}
          aria-expanded={open === e.id} aria-controls={open === e.id ? `panel-${e.id}` : undefined}
          onClick={() => onOpen(open === e.id ? null : e.id)}>
          <Icon name={e.id} size={20} />
          <span className="rail-label">{e.label}</span>
          {e.id === 'queue' && activeJobs > 0 && (
            <span className="count"><span className="sr-only">, </span>{activeJobs}<span className="sr-only"> active</span></span>
          )}
        </button>
      ))}
    </nav>
  )
}

/** The open panel (at most one), over the right side of the canvas. */
export function OpenPanel({ open, onClose, queue, goTo, watch }: {
  open: PanelId | null
  onClose: () => void
  queue: { jobs: Job[]; error: string | null; loaded: boolean; refresh: () => void }
  goTo: (blockId: string) => void
  watch: { person: Person | null; name: string; blockId: string | null; stop: () => void } | null
}) {
  let body: ReactNode = null
  if (open === 'queue') body = <QueuePanel {...queue} onShow={goTo} onClose={onClose} />
  else if (open === 'history') body = <HistoryPanel onClose={onClose} />
  else if (open === 'prompts') body = <PromptEditor onClose={onClose} />
  else if (open === 'spend') body = <UsagePanel onClose={onClose} />
  else if (open === 'keys') body = <KeysDialog onClose={onClose} />
  else if (open === 'branch' && watch) {
    body = <BranchPanel person={watch.person} name={watch.name} blockId={watch.blockId} onGo={goTo}
      onClose={() => { watch.stop(); onClose() }} />
  }
  if (!body) return null
  return (
    <div className="side-panels" id={`panel-${open}`}
      onKeyDown={(e) => {
        // Escape in a panel closes it (a question inside it handles Escape first).
        if (e.key === 'Escape' && !e.defaultPrevented) { e.stopPropagation(); onClose() }
      }}>
      {body}
    </div>
  )
}
