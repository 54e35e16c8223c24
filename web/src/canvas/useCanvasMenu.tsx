// The canvas's context menus: right-click (or the Menu key, or Shift+F10) on empty canvas
// to add a block there, paste or upload an image; on a block for its tools, run again,
// duplicate, delete and publish; and the choice of a new block's kind when a connection is
// dropped on empty space. Everything goes through the document's mutations.
import { useCallback, useEffect, useState, type MouseEvent as ReactMouseEvent, type ReactNode } from 'react'
import { createPortal } from 'react-dom'
import { useReactFlow, type FinalConnectionState } from '@xyflow/react'
import { useArbor } from '../hooks/useArbor'
import { useImageUpload } from '../hooks/useImageUpload'
import { useTools } from '../hooks/useTools'
import { toolFits, whyNot } from '../api/tools'
import type { ArborEdge, ArborNode } from '../sync/bindings'
import { connectBlocks, createBlock, createLinkedBlock, deleteItems, duplicateBlocks } from '../sync/mutations'
import { DEFAULT_SIZE, type BlockKind } from '../sync/schema'
import { ContextMenu, type MenuItem } from './ContextMenu'
import { againTool } from './BlockToolbar'
import { readFacts, type SelectedBlock } from './useSelectionFacts'
import { useToolRunner } from './useToolRunner'
import { pickImage } from './pickImage'
import { PublishDialog } from '../pages/gallery/PublishDialog'

type Point = { x: number; y: number }
interface Open { at: Point; label: string; items: MenuItem[] }

export function useCanvasMenu({ addBlock, selectOnly }: {
  addBlock: (kind: BlockKind, at?: Point) => string | null
  selectOnly: (ids: ReadonlySet<string>) => void
}) {
  const { conn, room, token, readOnly, identity, notify } = useArbor()
  const flow = useReactFlow<ArborNode, ArborEdge>()
  const upload = useImageUpload()
  const { tools } = useTools()
  const { run, runAgain } = useToolRunner(selectOnly)
  const [open, setOpen] = useState<Open | null>(null)
  const [publishing, setPublishing] = useState<string | null>(null)
  const close = useCallback(() => setOpen(null), [])

  const paneItems = useCallback((screen: Point): MenuItem[] => {
    const at = flow.screenToFlowPosition(screen)
    return [
      { label: 'Add a text block here', hint: 'T', onSelect: () => addBlock('text', at) },
      { label: 'Add an image block here', hint: 'I', onSelect: () => addBlock('image', at) },
      { label: 'Paste', hint: 'Ctrl+V', onSelect: () => void pasteAt(at) },
      { label: 'Upload an image…', onSelect: () => void pickImage().then((f) => {
        const id = f && addBlock('image', at)
        if (f && id) void upload(id, f)
      }) },
    ]
    async function pasteAt(p: Point) {
      try {
        for (const item of await navigator.clipboard.read()) {
          const type = item.types.find((t) => t.startsWith('image/'))
          if (type) {
            const id = addBlock('image', p)
            if (id) void upload(id, new File([await item.getType(type)], 'pasted image', { type }))
            return
          }
          if (item.types.includes('text/plain')) {
            const text = await (await item.getType('text/plain')).text()
            const { w, h } = DEFAULT_SIZE.text
            const id = createBlock(conn, { kind: 'text', text, x: p.x - w / 2, y: p.y - h / 2, author: identity.id })
            selectOnly(new Set([id]))
            return
          }
        }
        notify('There is no text or image to paste.')
      } catch {
        notify('This browser does not let the page read the clipboard: press Ctrl+V (⌘V) on the canvas instead.')
      }
    }
  }, [addBlock, conn, flow, identity.id, notify, selectOnly, upload])

  const blockItems = useCallback((ids: string[]): MenuItem[] => {
    const facts = ids.map((id) => readFacts(conn, id)).filter((f): f is SelectedBlock => f != null)
    const again = facts.length === 1 ? againTool(facts[0], tools) : null
    const items: MenuItem[] = tools.filter((t) => toolFits(t, facts)).map((t) => ({
      label: t.label, disabled: whyNot(t, facts), onSelect: () => void run(t, ids),
    }))
    if (again) items.unshift({ label: `Run ${again.label} again`, onSelect: () => void runAgain(ids[0]) })
    const rest: MenuItem[] = [
      { label: 'Duplicate', hint: 'Ctrl+D', onSelect: () => selectOnly(new Set(duplicateBlocks(conn, ids, identity.id))) },
      { label: 'Delete', hint: 'Del', onSelect: () => deleteItems(conn, ids) },
    ]
    if (facts.length === 1 && facts[0].kind === 'image') {
      rest.push({ label: 'Publish to the gallery…', disabled: facts[0].hasImage ? null : 'Add an image first',
        onSelect: () => setPublishing(ids[0]) })
    }
    rest[0].separator = items.length > 0
    return [...items, ...rest]
  }, [conn, identity.id, run, runAgain, selectOnly, tools])

  const openFor = useCallback((ids: string[], at: Point) => {
    if (readOnly || !ids.length) return
    setOpen({ at, label: ids.length === 1 ? 'Block actions' : `Actions for ${ids.length} blocks`, items: blockItems(ids) })
  }, [blockItems, readOnly])

  const onPaneContextMenu = useCallback((e: ReactMouseEvent | MouseEvent) => {
    if (readOnly) return
    e.preventDefault()
    const at = { x: e.clientX, y: e.clientY }
    setOpen({ at, label: 'Canvas', items: paneItems(at) })
  }, [paneItems, readOnly])

  const onNodeContextMenu = useCallback((e: ReactMouseEvent, node: ArborNode) => {
    if (readOnly) return
    e.preventDefault()
    const picked = flow.getNodes().filter((n) => n.selected).map((n) => n.id)
    const ids = node.selected && picked.includes(node.id) ? picked : [node.id]
    if (!node.selected) selectOnly(new Set(ids))
    openFor(ids, { x: e.clientX, y: e.clientY })
  }, [flow, openFor, readOnly, selectOnly])

  const onSelectionContextMenu = useCallback((e: ReactMouseEvent, nodes: ArborNode[]) => {
    e.preventDefault()
    openFor(nodes.map((n) => n.id), { x: e.clientX, y: e.clientY })
  }, [openFor])

  // A connection dropped on empty canvas: ask which kind of block to make there.
  const onConnectEnd = useCallback((event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
    if (readOnly || state.isValid || !state.fromNode) return
    const pt = 'changedTouches' in event ? event.changedTouches[0] : event
    if (!(event.target as Element | null)?.classList.contains('react-flow__pane')) return
    const pos = flow.screenToFlowPosition({ x: pt.clientX, y: pt.clientY })
    const from = state.fromNode.id
    const fromIsSource = state.fromHandle?.type !== 'target'
    const make = (kind: BlockKind) => {
      const { w, h } = DEFAULT_SIZE[kind]
      const id = fromIsSource
        ? createLinkedBlock(conn, from, { kind, x: pos.x, y: pos.y - h / 2, author: identity.id })
        : createBlock(conn, { kind, x: pos.x - w, y: pos.y - h / 2, author: identity.id })
      if (!fromIsSource) connectBlocks(conn, id, from)
      selectOnly(new Set([id]))
    }
    setOpen({ at: { x: pt.clientX, y: pt.clientY }, label: 'New connected block', items: [
      { label: 'Text', hint: 'a prompt or notes', onSelect: () => make('text') },
      { label: 'Image', hint: 'to upload or generate', onSelect: () => make('image') },
    ] })
  }, [conn, flow, identity.id, readOnly, selectOnly])

  // The Menu key or Shift+F10: the focused block's menu, the selection's, or the canvas's.
  useEffect(() => {
    if (readOnly) return
    const onKey = (e: KeyboardEvent) => {
      if (!(e.key === 'ContextMenu' || (e.shiftKey && e.key === 'F10'))) return
      const el = document.activeElement as HTMLElement | null
      if (el && (el.closest('.cm-editor') || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName))) return
      e.preventDefault()
      const focused = el?.classList.contains('react-flow__node') ? el.dataset.id : undefined
      const picked = flow.getNodes().filter((n) => n.selected).map((n) => n.id)
      const ids = focused && !picked.includes(focused) ? [focused] : picked
      const r = (focused ? el : document.querySelector('.react-flow'))!.getBoundingClientRect()
      if (ids.length) openFor(ids, { x: r.left + 12, y: focused ? r.bottom + 4 : r.top + r.height / 2 })
      else onPaneContextMenu(new MouseEvent('contextmenu', { clientX: r.left + r.width / 2, clientY: r.top + r.height / 2 }))
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [flow, onPaneContextMenu, openFor, readOnly])

  const element: ReactNode = (
    <>
      {open && <ContextMenu x={open.at.x} y={open.at.y} label={open.label} items={open.items} onClose={close} />}
      {publishing && createPortal(
        <PublishDialog room={room} token={token} blockId={publishing} onClose={() => setPublishing(null)} />,
        document.body)}
    </>
  )
  return { onPaneContextMenu, onNodeContextMenu, onSelectionContextMenu, onConnectEnd, openFor, element }
}
