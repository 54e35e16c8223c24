// The canvas's top bar: where you are (title, connection and saved state), what you can add
// and undo, who is here, and sharing. Secondary panels live in the side rail (SideRail.tsx);
// on a phone the bar keeps the title, the tools and one menu (CanvasMenu.tsx).
//
// Layout (topbar.css): the title and status never shrink under anything; below 1360 px the
// add and fit buttons show icons (their words stay their names), and the followers' names
// become a count.
import { useEffect, useState } from 'react'
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
import { CanvasMenu } from './CanvasMenu'
import { Icon } from './icons'
import type { PanelId } from './SideRail'
import './topbar.css'

/** "Ben is following you", "Ben and Cy are following you". */
function followText(people: Person[]): string {
  const names = people.map((p) => p.user.name)
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : names[0]
  return `${list} ${names.length === 1 ? 'is' : 'are'} following you`
}

export function TopBar({ people, following, onFollow, watching, onWatch, addBlock, selectOnly, onTokenChange,
  panel, onPanel, activeJobs, spotlight, onSpotlight }: {
  people: Person[]
  following: string | null
  onFollow: (id: string | null) => void
  watching: string | null
  onWatch: (id: string | null) => void
  addBlock: (kind: BlockKind) => string | null
  selectOnly: (ids: ReadonlySet<string>) => void
  onTokenChange: (t: string) => void
  panel: PanelId | null
  onPanel: (id: PanelId | null) => void
  activeJobs: number
  spotlight: boolean
  onSpotlight: () => void
}) {
  const { conn, room, readOnly, identity } = useArbor()
  const title = useCanvasTitle()
  const { canUndo, canRedo, undo, redo } = useUndoState()
  const flow = useReactFlow<ArborNode, ArborEdge>()
  const [draft, setDraft] = useState<string | null>(null)
  const [sharing, setSharing] = useState(false)
  const followers = people.filter((p) => p.following === identity.id)

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
          <h1 className="title" title={title}>{title}</h1>
        ) : (
          <input className="title-input" aria-label="Canvas title" value={draft ?? title} maxLength={200}
            title={draft ?? title}
            onChange={(e) => setDraft(e.target.value)} onBlur={commitTitle}
            onKeyDown={(e) => { if (e.key === 'Enter') (e.target as HTMLInputElement).blur(); if (e.key === 'Escape') setDraft(null) }} />
        )}
        {readOnly && <span className="badge view">View only</span>}
        <StatusIndicator />
      </div>
      <div className="topbar-mid" role="toolbar" aria-label="Canvas tools">
        {!readOnly && (
          <>
            <button className="tb-add" onClick={() => addBlock('text')} title="New text block (T)">
              <Icon name="text" /><span className="tb-label">+ Text</span>
            </button>
            <button className="tb-add" onClick={() => addBlock('image')} title="New image block (I)">
              <Icon name="image" /><span className="tb-label">+ Image</span>
            </button>
            <span className="sep" aria-hidden="true" />
            <button className="tb-icon-only" onClick={undo} disabled={!canUndo} title="Undo (Ctrl/Cmd+Z)">
              <Icon name="undo" /><span className="sr-only">Undo</span>
            </button>
            <button className="tb-icon-only" onClick={redo} disabled={!canRedo} title="Redo (Ctrl/Cmd+Shift+Z)">
              <Icon name="redo" /><span className="sr-only">Redo</span>
            </button>
            <span className="sep" aria-hidden="true" />
          </>
        )}
        {!readOnly && <ToolsMenu selectOnly={selectOnly} />}
        <button className="tb-fit" onClick={() => fitAll(flow, 300)} title="Fit everything in view">
          <Icon name="fit" /><span className="tb-label">Fit view</span>
        </button>
      </div>
      <div className="topbar-right">
        <Avatars people={people} following={following} onFollow={onFollow} watching={watching} onWatch={onWatch} />
        {followers.length > 0 && (
          <span className="follow-count small" role="status" title={followText(followers)}>
            <Icon name="eye" /><span aria-hidden="true">{followers.length}</span>
            <span className="sr-only">{followText(followers)}</span>
          </span>
        )}
        {spotlight && (
          <button className="small on tb-spotlight" onClick={onSpotlight} aria-pressed="true"
            title="Everyone was asked to follow you. Click to stop."><Icon name="spot" size={16} /><span className="tb-label">Spotlight on</span></button>
        )}
        <MeMenu spotlight={spotlight} onSpotlight={onSpotlight} />
        <button className="primary tb-share" onClick={() => setSharing(true)}>Share</button>
        <CanvasMenu readOnly={readOnly} addBlock={addBlock} undo={undo} redo={redo} canUndo={canUndo}
          canRedo={canRedo} fit={() => fitAll(flow, 300)} panel={panel} onPanel={onPanel}
          activeJobs={activeJobs} onShare={() => setSharing(true)} />
      </div>
      {sharing && <ShareDialog onClose={() => setSharing(false)} onTokenChange={onTokenChange} />}
    </header>
  )
}
