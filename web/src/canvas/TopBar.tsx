import { useCallback, useEffect, useState } from 'react'
import { useReactFlow } from '@xyflow/react'
import { navigate } from '../App'
import { useArbor } from '../hooks/useArbor'
import { useCanvasTitle } from '../hooks/useCanvasTitle'
import { useUndoState } from '../hooks/useUndoState'
import { rememberCanvas } from '../lib/recent'
import type { Person } from '../sync/presence'
import { setTitle } from '../sync/mutations'
import type { BlockKind } from '../sync/schema'
import type { ArborEdge, ArborNode } from '../sync/bindings'
import { Avatars } from './Avatars'
import { StatusIndicator } from './StatusIndicator'
import { ShareDialog } from './ShareDialog'
import { ToolsMenu } from './ToolsMenu'
import { Logo } from './Logo'
import { MeMenu } from './MeMenu'
import { fitAll } from './fitAll'
import { PromptEditor } from './PromptEditor'
import { UsagePanel } from './UsagePanel'
import { KeysDialog } from './KeysDialog'

export function TopBar({ people, following, onFollow, watching, onWatch, addBlock, selectOnly, onTokenChange,
  queueOpen, onQueue, activeJobs, spotlight, onSpotlight, historyOpen, onHistory }: {
  people: Person[]
  following: string | null
  onFollow: (id: string | null) => void
  watching: string | null
  onWatch: (id: string | null) => void
  addBlock: (kind: BlockKind) => string | null
  selectOnly: (ids: ReadonlySet<string>) => void
  onTokenChange: (t: string) => void
  queueOpen: boolean
  onQueue: () => void
  activeJobs: number
  spotlight: boolean
  onSpotlight: () => void
  historyOpen: boolean
  onHistory: () => void
}) {
  const { conn, room, readOnly } = useArbor()
  const title = useCanvasTitle()
  const { canUndo, canRedo, undo, redo } = useUndoState()
  const flow = useReactFlow<ArborNode, ArborEdge>()
  const [draft, setDraft] = useState<string | null>(null)
  const [sharing, setSharing] = useState(false)
  const [panel, setPanel] = useState<'prompts' | 'usage' | 'keys' | null>(null)
  const closePanel = useCallback(() => setPanel(null), [])

  useEffect(() => {
    document.title = `${title} · Arbor`
    rememberCanvas({ room, title })
  }, [title, room])

  const commitTitle = () => {
    if (draft != null && draft.trim() && draft.trim() !== title) setTitle(conn, draft.trim().slice(0, 200))
    setDraft(null)
  }

  return (
    <header className="topbar">
      <div className="topbar-left">
        <a href="/" className="home-link" aria-label="Arbor home: your canvases"
          onClick={(e) => { e.preventDefault(); navigate('/') }}><Logo /></a>
        {readOnly ? (
          <h1 className="title">{title}</h1>
        ) : (
          <input className="title-input" aria-label="Canvas title" value={draft ?? title} maxLength={200}
            onChange={(e) => setDraft(e.target.value)} onBlur={commitTitle}
            onKeyDown={(e) => { if (e.key === 'Enter') (e.target as HTMLInputElement).blur(); if (e.key === 'Escape') setDraft(null) }} />
        )}
        {readOnly && <span className="badge view">View only</span>}
        <StatusIndicator />
      </div>
      <div className="topbar-mid" role="toolbar" aria-label="Canvas tools">
        {!readOnly && (
          <>
            <button onClick={() => addBlock('text')} title="New text block (T)">+ Text</button>
            <button onClick={() => addBlock('image')} title="New image block (I)">+ Image</button>
            <span className="sep" aria-hidden="true" />
            <button onClick={undo} disabled={!canUndo} aria-label="Undo" title="Undo (Ctrl/Cmd+Z)">↶</button>
            <button onClick={redo} disabled={!canRedo} aria-label="Redo" title="Redo (Ctrl/Cmd+Shift+Z)">↷</button>
            <span className="sep" aria-hidden="true" />
            <ToolsMenu selectOnly={selectOnly} />
          </>
        )}
        <button onClick={() => fitAll(flow, 300)} title="Fit everything in view">Fit view</button>
        <button onClick={onQueue} aria-expanded={queueOpen}
          title="Jobs of this canvas: waiting, running, finished">
          Queue{activeJobs > 0 && <span className="count" aria-label={`${activeJobs} active`}> {activeJobs}</span>}
        </button>
        <button onClick={onHistory} aria-expanded={historyOpen}
          title="Earlier versions of this canvas: preview and restore">History</button>
        <button onClick={() => setPanel('prompts')} title="This canvas's tool prompts">Prompts</button>
        <button onClick={() => setPanel('usage')} title="What this canvas has spent">Spend</button>
        {!readOnly && <button onClick={() => setPanel('keys')} title="Bring this canvas's own API keys">Keys</button>}
      </div>
      <div className="topbar-right">
        <Avatars people={people} following={following} onFollow={onFollow} watching={watching} onWatch={onWatch} />
        {spotlight && (
          <button className="small on" onClick={onSpotlight} aria-pressed="true"
            title="Everyone was asked to follow you. Click to stop.">Spotlight on</button>
        )}
        <MeMenu spotlight={spotlight} onSpotlight={onSpotlight} />
        <button className="primary" onClick={() => setSharing(true)}>Share</button>
      </div>
      {sharing && <ShareDialog onClose={() => setSharing(false)} onTokenChange={onTokenChange} />}
      {panel === 'prompts' && <PromptEditor onClose={closePanel} />}
      {panel === 'usage' && <UsagePanel onClose={closePanel} />}
      {panel === 'keys' && <KeysDialog onClose={closePanel} />}
    </header>
  )
}
