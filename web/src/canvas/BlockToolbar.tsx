// The tools of the selected blocks, on a small toolbar beside them (React Flow's
// NodeToolbar): only the tools that fit the selection's kinds and number, each disabled with
// its reason when it cannot run; "Run again" on a finished or failed output; "More" opens the
// block's menu. Keyboard: Tab from a selected block enters the toolbar, arrows move, Esc goes
// back to the block; Esc on the canvas clears the selection.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react'
import { NodeToolbar, Position, useStore, type Align, type ReactFlowState } from '@xyflow/react'
import { useArbor } from '../hooks/useArbor'
import { useTools } from '../hooks/useTools'
import { toolFits, whyNot, type Tool } from '../api/tools'
import { useSelectionFacts, type SelectedBlock } from './useSelectionFacts'
import { useToolRunner } from './useToolRunner'
import './blockTools.css'

const selectedKey = (s: ReactFlowState) => s.nodes.filter((n) => n.selected).map((n) => n.id).join(' ')

/** The tool that made this block, if it can be run again into it (not Split: its blocks are
 * decided when it runs) and the block is not being made right now. */
export function againTool(b: SelectedBlock | undefined, tools: readonly Tool[]): Tool | null {
  if (!b?.tool || !b.jobId || b.busy || !['done', 'error', 'cancelled'].includes(b.status)) return null
  const t = tools.find((x) => x.name === b.tool)
  return t && t.outputs !== 0 ? t : null
}

const typing = (el: Element | null) => !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' ||
  el.tagName === 'SELECT' || (el as HTMLElement).isContentEditable || !!el.closest('.cm-editor'))

const nodeEl = (id: string) => document.querySelector<HTMLElement>(`.react-flow__node[data-id="${CSS.escape(id)}"]`)

/** Centred over the blocks if it fits on the canvas, else from their left edge, else
 * ending at their right edge (a block near the canvas's side keeps its whole toolbar). */
function fitAlign(bar: HTMLElement | null, ids: readonly string[]): Align {
  const pane = bar?.closest('.react-flow')?.getBoundingClientRect()
  const rects = ids.map((id) => nodeEl(id)?.getBoundingClientRect()).filter((r): r is DOMRect => !!r)
  if (!bar || !pane || !rects.length) return 'center'
  const left = Math.min(...rects.map((r) => r.left))
  const right = Math.max(...rects.map((r) => r.right))
  const w = bar.offsetWidth
  const mid = (left + right) / 2
  if (mid - w / 2 >= pane.left + 4 && mid + w / 2 <= pane.right - 4) return 'center'
  return left + w <= pane.right - 4 || left < pane.left ? 'start' : 'end'
}

function focusNode(id: string | undefined) {
  if (id) nodeEl(id)?.focus()
}

export function BlockToolbar({ selectOnly, onMore }: {
  selectOnly: (ids: ReadonlySet<string>) => void
  onMore: (ids: string[], at: { x: number; y: number }) => void
}) {
  const { readOnly } = useArbor()
  const key = useStore(selectedKey)
  const ids = useMemo(() => (key ? key.split(' ') : []), [key])
  const facts = useSelectionFacts(ids)
  const { tools } = useTools()
  const { run, runAgain } = useToolRunner(selectOnly)
  const bar = useRef<HTMLDivElement>(null)
  const [align, setAlign] = useState<Align>('center')
  useStore((s) => s.transform) // panning and zooming move the blocks: align again
  useLayoutEffect(() => {
    const next = fitAlign(bar.current, ids)
    if (next !== align) setAlign(next)
  })

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || !ids.length) return
      const el = document.activeElement
      if (e.key === 'Escape' && !typing(el) && !document.querySelector('[role=menu], [aria-modal=true]')) {
        selectOnly(new Set())
      } else if (e.key === 'Tab' && !e.shiftKey && !readOnly && el?.classList.contains('react-flow__node') &&
          ids.includes((el as HTMLElement).dataset.id ?? '')) {
        const first = bar.current?.querySelector<HTMLElement>('button')
        if (first) { e.preventDefault(); first.focus() }
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [ids, readOnly, selectOnly])

  if (readOnly || !ids.length || facts.length !== ids.length) return null
  const shown = tools.filter((t) => toolFits(t, facts))
  const again = ids.length === 1 ? againTool(facts[0], tools) : null

  function onKeyDown(e: React.KeyboardEvent) {
    const all = Array.from(bar.current?.querySelectorAll<HTMLElement>('button') ?? [])
    const i = all.indexOf(document.activeElement as HTMLElement)
    const go = (n: number) => { e.preventDefault(); all[(n + all.length) % all.length]?.focus() }
    if (e.key === 'ArrowRight') go(i + 1)
    else if (e.key === 'ArrowLeft') go(i - 1)
    else if (e.key === 'Home') go(0)
    else if (e.key === 'End') go(all.length - 1)
    else if (e.key === 'Escape' || (e.key === 'Tab' && e.shiftKey && i === 0)) { e.preventDefault(); focusNode(ids[0]) }
    else return
    e.stopPropagation()
  }

  const what = ids.length === 1 ? `${facts[0].kind} block` : `${ids.length} selected blocks`
  return (
    <NodeToolbar nodeId={ids} isVisible position={Position.Top} offset={12} align={align}>
      <div ref={bar} role="toolbar" aria-label={`Tools for the ${what}`} className="block-toolbar nodrag nopan nowheel"
        onKeyDown={onKeyDown}>
        {again && (
          <span className="tool-wrap">
            <button className="again" aria-describedby="tb-tip-again" onClick={() => void runAgain(ids[0])}>Run again</button>
            <span role="tooltip" id="tb-tip-again" className="tool-tip">{`${again.label} again, same inputs and options, in this block`}</span>
          </span>
        )}
        {again && shown.length > 0 && <span className="tb-sep" aria-hidden="true" />}
        {shown.map((t) => {
          const why = whyNot(t, facts)
          return (
            <span key={t.name} className="tool-wrap">
              <button aria-disabled={why ? true : undefined} aria-describedby={`tb-tip-${t.name}`}
                onClick={() => { if (!why) void run(t, ids) }}>{t.label}</button>
              <span role="tooltip" id={`tb-tip-${t.name}`} className="tool-tip">{why ?? t.description ?? t.label}</span>
            </span>
          )
        })}
        <span className="tb-sep" aria-hidden="true" />
        <button aria-haspopup="menu" aria-label="More actions" title="More actions"
          onClick={(e) => { const r = e.currentTarget.getBoundingClientRect(); onMore(ids, { x: r.left, y: r.bottom + 4 }) }}>⋯</button>
      </div>
    </NodeToolbar>
  )
}
