// The canvas: React Flow over the Yjs document, presence, follow mode and shortcuts.
import { useCallback, useEffect, useMemo, useRef, useState, type MouseEvent as ReactMouseEvent } from 'react'
import {
  Background, BackgroundVariant, MiniMap, ReactFlow, applyEdgeChanges, applyNodeChanges,
  useReactFlow, type Connection as FlowConnection, type EdgeChange,
  type NodeChange, type OnSelectionChangeParams, type Viewport,
} from '@xyflow/react'
import { nodeTypes } from '../nodes/nodeTypes'
import { useArbor } from '../hooks/useArbor'
import { useBlockNodes } from '../hooks/useBlockNodes'
import { useBlockEdges } from '../hooks/useBlockEdges'
import { usePeers } from '../hooks/usePeers'
import { usePresence } from '../hooks/usePresence'
import { useCanvasShortcuts } from '../hooks/useCanvasShortcuts'
import { useConnectionState } from '../hooks/useConnectionState'
import { useImageUpload } from '../hooks/useImageUpload'
import { mergeNodes, readBlocks, type ArborEdge, type ArborNode } from '../sync/bindings'
import { selectionsByBlock, spotlightOf } from '../sync/presence'
import { branchLinks, lineageOf } from '../sync/lineage'
import { useJobs } from '../hooks/useJobs'
import { isActiveJob } from '../api/jobs'
import { connectBlocks, createBlock, deleteItems, moveBlocks } from '../sync/mutations'
import { DEFAULT_SIZE, type BlockKind } from '../sync/schema'
import { Cursors } from './Cursors'
import { TopBar } from './TopBar'
import { FollowBanner } from './FollowBanner'
import { ConnectionBanner } from './ConnectionBanner'
import { fitAll } from './fitAll'
import { OpenPanel, SideRail, type PanelId } from './SideRail'
import { useTheirActions } from '../hooks/useTheirActions'
import { requestEdit } from '../sync/editRequests'
import { BlockToolbar } from './BlockToolbar'
import { useCanvasMenu } from './useCanvasMenu'
import { StartHints } from './StartHints'
import { ZoomControls } from './ZoomControls'
import { useRevealOwnRuns } from '../hooks/useRevealOwnRuns'
import { useCanvasThumbnail } from '../hooks/useCanvasThumbnail'

const GRID: [number, number] = [20, 20]

export function CanvasView({ onTokenChange }: { onTokenChange: (t: string) => void }) {
  const { conn, readOnly, identity, notify } = useArbor()
  const flow = useReactFlow<ArborNode, ArborEdge>()
  const [nodes, setNodes] = useBlockNodes()
  const [edges, setEdges] = useBlockEdges()
  const people = usePeers()
  const presence = usePresence()
  const [following, setFollowing] = useState<string | null>(null)
  const [watching, setWatching] = useState<{ id: string; name: string } | null>(null)
  // The one open side panel (queue, history, prompts, spend, keys, someone's branch).
  const [panel, setPanel] = useState<PanelId | null>(null)
  const closePanel = useCallback(() => setPanel(null), [])
  useTheirActions()
  const [spotlight, setSpotlight] = useState<number | null>(null)
  const queue = useJobs()
  const pointer = useRef<{ x: number; y: number } | null>(null)
  const upload = useImageUpload()

  // ---- creating blocks -----------------------------------------------------------------
  // Select blocks just made by this person (they are drawn from the document right away).
  const selectOnly = useCallback((ids: ReadonlySet<string>) => {
    setNodes((prev) => mergeNodes(prev, readBlocks(conn.blocks), readOnly).map((n) =>
      n.selected === ids.has(n.id) ? n : { ...n, selected: ids.has(n.id) }))
  }, [conn, readOnly, setNodes])

  const addBlock = useCallback((kind: BlockKind, at?: { x: number; y: number }) => {
    if (readOnly) return null
    let p = at ?? pointer.current
    if (!p) {
      const el = document.querySelector('.react-flow')
      const r = el?.getBoundingClientRect()
      p = flow.screenToFlowPosition({ x: (r?.left ?? 0) + (r?.width ?? 800) / 2, y: (r?.top ?? 0) + (r?.height ?? 600) / 2 })
    }
    const { w, h } = DEFAULT_SIZE[kind]
    const id = createBlock(conn, { kind, x: p.x - w / 2, y: p.y - h / 2, author: identity.id })
    if (kind === 'text') requestEdit(id)
    selectOnly(new Set([id]))
    return id
  }, [conn, flow, identity.id, readOnly, selectOnly])

  // ---- React Flow changes: local state at once, the document on commit ------------------
  const onNodesChange = useCallback((changes: NodeChange<ArborNode>[]) => {
    // Removal goes through onDelete (one transaction with the edges); the rest is local.
    const local = changes.filter((c) => c.type !== 'remove' && !(readOnly && c.type === 'position'))
    setNodes((ns) => applyNodeChanges(local, ns))
  }, [readOnly, setNodes])

  const onEdgesChange = useCallback((changes: EdgeChange<ArborEdge>[]) => {
    setEdges((es) => applyEdgeChanges(changes.filter((c) => c.type !== 'remove'), es))
  }, [setEdges])

  const onNodeDragStop = useCallback((_: unknown, __: ArborNode, dragged: ArborNode[]) => {
    moveBlocks(conn, dragged.map((n) => ({ id: n.id, x: n.position.x, y: n.position.y })))
  }, [conn])

  const onDelete = useCallback(({ nodes: ns, edges: es }: { nodes: ArborNode[]; edges: ArborEdge[] }) => {
    if (readOnly) return
    deleteItems(conn, ns.map((n) => n.id), es.map((e) => e.id))
  }, [conn, readOnly])

  const onConnect = useCallback((c: FlowConnection) => {
    if (!readOnly && c.source && c.target) connectBlocks(conn, c.source, c.target)
  }, [conn, readOnly])

  // ---- presence -------------------------------------------------------------------------
  const onSelectionChange = useCallback(({ nodes: ns }: OnSelectionChangeParams) => {
    presence.setSelection(ns.map((n) => n.id))
  }, [presence])

  const onPointerMove = useCallback((e: ReactMouseEvent) => {
    const p = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY })
    pointer.current = p
    presence.setCursor(p)
  }, [flow, presence])

  const onMove = useCallback((event: MouseEvent | TouchEvent | null, vp: Viewport) => {
    presence.setViewport(vp)
    // Panning or zooming by hand stops following.
    if (event && following) setFollowing(null)
  }, [presence, following])

  useEffect(() => presence.setViewport(flow.getViewport()), [presence, flow])

  const followed = following ? people.find((p) => p.user.id === following) ?? null : null
  useEffect(() => presence.setFollowing(following), [presence, following])
  useEffect(() => {
    if (following && followed?.user.noFollow) {
      setFollowing(null)
      notify(`${followed.user.name} does not want to be followed.`)
    }
  }, [following, followed, notify])
  useEffect(() => {
    if (followed?.viewport && !followed.user.noFollow) void flow.setViewport(followed.viewport, { duration: 250 })
  }, [flow, followed?.viewport?.x, followed?.viewport?.y, followed?.viewport?.zoom, followed?.user.noFollow]) // eslint-disable-line react-hooks/exhaustive-deps

  const startFollowing = useCallback((userId: string | null) => setFollowing(userId), [])

  // ---- spotlight: someone asks everyone to follow them; each person can decline -----------
  useEffect(() => presence.setSpotlight(spotlight), [presence, spotlight])
  const asked = useRef(new Set<string>())
  const lit = spotlightOf(people)
  useEffect(() => {
    if (!lit) return
    const key = `${lit.user.id}:${lit.spotlight}`
    if (asked.current.has(key)) return // asked before: following, or declined by stopping
    asked.current.add(key)
    if (lit.user.id === identity.id) return
    setFollowing(lit.user.id)
    notify(`${lit.user.name} asked everyone to follow their view. Stop following to decline.`)
  }, [lit?.user.id, lit?.spotlight, identity.id, notify]) // eslint-disable-line react-hooks/exhaustive-deps
  const toggleSpotlight = useCallback(() => setSpotlight((s) => (s == null ? Date.now() : null)), [])
  useEffect(() => { if (identity.noFollow) setSpotlight(null) }, [identity.noFollow])

  // ---- watching someone's branch: the block they last selected (or ran) ------------------
  const lastPicked = useRef(new Map<string, string>())
  for (const p of people) {
    if (p.selection.length) lastPicked.current.set(p.user.id, p.selection[p.selection.length - 1])
  }
  const watchedPerson = watching ? people.find((p) => p.user.id === watching.id) ?? null : null
  const watchedBlock = watching ? lastPicked.current.get(watching.id) ?? null : null
  const startWatching = useCallback((userId: string | null) => {
    const p = userId ? people.find((x) => x.user.id === userId) : null
    setWatching(p ? { id: p.user.id, name: p.user.name } : null)
    setPanel((open) => (p ? 'branch' : open === 'branch' ? null : open))
  }, [people])

  /** Centre the view on a block (stops following: this person chose where to look). */
  const goTo = useCallback((blockId: string) => {
    const b = conn.blocks.get(blockId)
    if (!b) return
    setFollowing(null)
    const x = Number(b.get('x') ?? 0) + Number(b.get('w') ?? 0) / 2
    const y = Number(b.get('y') ?? 0) + Number(b.get('h') ?? 0) / 2
    void flow.setCenter(x, y, { zoom: flow.getZoom(), duration: 300 })
  }, [conn, flow])

  // ---- double-click, paste, drop --------------------------------------------------------
  const onDoubleClick = useCallback((e: ReactMouseEvent) => {
    if (readOnly) return
    if (!(e.target as Element).classList.contains('react-flow__pane')) return
    addBlock('text', flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }))
  }, [addBlock, flow, readOnly])

  useEffect(() => {
    if (readOnly) return
    const onPaste = (e: ClipboardEvent) => {
      const t = e.target as HTMLElement | null
      if (t && (t.closest('.cm-editor') || t.tagName === 'INPUT' || t.tagName === 'TEXTAREA')) return
      const file = Array.from(e.clipboardData?.files ?? []).find((f) => f.type.startsWith('image/'))
      if (!file) return
      e.preventDefault()
      const id = addBlock('image')
      if (id) void upload(id, file)
    }
    window.addEventListener('paste', onPaste)
    return () => window.removeEventListener('paste', onPaste)
  }, [addBlock, readOnly, upload])

  const onDrop = useCallback((e: React.DragEvent) => {
    if (readOnly) return
    const file = Array.from(e.dataTransfer.files).find((f) => f.type.startsWith('image/'))
    if (!file) return
    e.preventDefault()
    const id = addBlock('image', flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }))
    if (id) void upload(id, file)
  }, [addBlock, flow, readOnly, upload])

  useCanvasShortcuts({ addBlock, selectOnly })
  // Right-click menus, and the kind of block a connection dropped on empty canvas makes.
  const menu = useCanvasMenu({ addBlock, selectOnly })
  useRevealOwnRuns()
  useCanvasThumbnail()

  // Show the whole canvas once its content arrives (from this browser's cache or the server).
  const { synced } = useConnectionState()
  const fitted = useRef(false)
  const [cacheLoaded, setCacheLoaded] = useState(false)
  useEffect(() => {
    void conn.idb?.whenSynced.then(() => setCacheLoaded(true))
  }, [conn])
  useEffect(() => {
    if (fitted.current || !(synced || cacheLoaded)) return
    if (nodes.length === 0) {
      // The server says it is empty: nothing to fit. (Blocks already in the document but not
      // yet drawn arrive on the next frame: wait for them.)
      if (synced && conn.blocks.size === 0) fitted.current = true
      return
    }
    fitted.current = true
    requestAnimationFrame(() => fitAll(flow))
  }, [synced, cacheLoaded, nodes.length, flow, conn])

  // Other people's selections outline blocks in their colour.
  const peerSel = useMemo(() => selectionsByBlock(people), [people])
  // The selected blocks' branch: ancestors back to the root prompt and all descendants.
  const selectedKey = useMemo(() => nodes.filter((n) => n.selected).map((n) => n.id).join(' '), [nodes])
  const branch = useMemo(() => {
    if (!selectedKey) return null
    const ids = selectedKey.split(' ')
    const { ancestors, descendants } = lineageOf(edges, ids)
    return { ancestors, descendants, edges: new Set(branchLinks(edges, ids).map((e) => e.id)) }
  }, [edges, selectedKey])
  const shown = useMemo(() => nodes.map((n) => {
    const colors = peerSel.get(n.id)
    const cls = branch?.ancestors.has(n.id) ? 'branch-ancestor' : branch?.descendants.has(n.id) ? 'branch-descendant' : undefined
    if (!colors && cls === n.className) return n
    return { ...n, className: cls, data: colors ? { ...n.data, peerColors: colors } : n.data }
  }), [nodes, peerSel, branch])
  const shownEdges = useMemo(() => (branch ? edges.map((e) => {
    const on = branch.edges.has(e.id)
    return on === (e.className === 'in-branch') ? e : { ...e, className: on ? 'in-branch' : undefined }
  }) : edges), [edges, branch])
  const activeJobs = queue.jobs.filter(isActiveJob).length

  return (
    <div className={`canvas-page${readOnly ? ' read-only' : ''}`}>
      <TopBar people={people} following={following} onFollow={startFollowing} addBlock={addBlock}
        watching={watching?.id ?? null} onWatch={startWatching} selectOnly={selectOnly}
        onTokenChange={onTokenChange} panel={panel} onPanel={setPanel}
        activeJobs={activeJobs} spotlight={spotlight != null} onSpotlight={toggleSpotlight} />
      <ConnectionBanner />
      {followed && <FollowBanner name={followed.user.name} color={followed.user.color}
        spotlight={followed.spotlight != null} onStop={() => setFollowing(null)} />}
      <div className="flow-wrap" onPointerMove={onPointerMove} onDoubleClick={onDoubleClick}
        onDragOver={(e) => { if (!readOnly && e.dataTransfer.types.includes('Files')) e.preventDefault() }}
        onDrop={onDrop}>
        <div className="flow-area">{/* the canvas; the side rail is beside it */}
        <StartHints nodes={nodes} edges={edges.length} selectOnly={selectOnly} />
        <ReactFlow<ArborNode, ArborEdge>
          nodes={shown}
          edges={shownEdges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onNodeDragStop={onNodeDragStop}
          onDelete={onDelete}
          onConnect={onConnect}
          onConnectEnd={menu.onConnectEnd}
          onPaneContextMenu={menu.onPaneContextMenu}
          onNodeContextMenu={menu.onNodeContextMenu}
          onSelectionContextMenu={menu.onSelectionContextMenu}
          onSelectionChange={onSelectionChange}
          onMove={onMove}
          nodesDraggable={!readOnly}
          nodesConnectable={!readOnly}
          edgesReconnectable={false}
          deleteKeyCode={readOnly ? null : ['Delete', 'Backspace']}
          multiSelectionKeyCode={['Shift', 'Meta', 'Control']}
          selectionOnDrag={false}
          zoomOnDoubleClick={false}
          snapToGrid
          snapGrid={GRID}
          minZoom={0.1}
          maxZoom={3}
          // No fitView here: it would jump to the first block someone makes on an empty canvas.
          // The effect above fits once, when the canvas's content arrives.
          onlyRenderVisibleElements
          proOptions={{ hideAttribution: true }}
          defaultEdgeOptions={{ type: 'smoothstep' }}
          aria-label="Canvas"
        >
          <Background variant={BackgroundVariant.Dots} gap={GRID[0]} size={1.2} color="#c3c8d1" />
          <ZoomControls />
          <MiniMap pannable zoomable ariaLabel="Overview map"
            nodeColor={(n) => (n.type === 'image' ? '#c7d7fe' : '#e4e7ec')} nodeStrokeWidth={2} />
          <Cursors people={people} />
          <BlockToolbar selectOnly={selectOnly} onMore={menu.openFor} />
        </ReactFlow>
        {menu.element}
        </div>
        <SideRail open={panel} onOpen={setPanel} readOnly={readOnly} activeJobs={activeJobs}
          watching={watching?.name ?? null} />
        <OpenPanel open={panel} onClose={closePanel} queue={queue} goTo={goTo}
          watch={watching ? { person: watchedPerson, name: watching.name, blockId: watchedBlock, stop: () => setWatching(null) } : null} />
      </div>
    </div>
  )
}
