// Each tool's prompt template for this canvas (meta.prompts): everyone sees a change at
// once, undo takes it back, Reset returns to the default. A template is checked here the
// same way the server checks it (sync/tools.py validate_template) before it is written.
import { useEffect, useMemo, useState } from 'react'
import { useArbor } from '../hooks/useArbor'
import { useTools } from '../hooks/useTools'
import { usePrompts } from '../hooks/usePrompts'
import type { Tool } from '../api/tools'
import { writePrompt } from '../sync/prompts'

export const MAX_TEMPLATE_CHARS = 8000
export const BASE_PLACEHOLDERS = ['text', 'input', 'inputs', 'context', 'count']

/** The placeholders a template names, or the reason it cannot be parsed. */
export function templateFields(template: string): { fields: string[] } | { error: string } {
  const fields: string[] = []
  for (let i = 0; i < template.length; i++) {
    const c = template[i]
    if (c === '{') {
      if (template[i + 1] === '{') { i++; continue }
      const end = template.indexOf('}', i)
      if (end < 0) return { error: 'a { is never closed; write {{ for a literal brace' }
      const field = template.slice(i + 1, end)
      if (field.includes('{')) return { error: 'a { is never closed; write {{ for a literal brace' }
      if (/[!:]/.test(field)) return { error: `write {${field.split(/[!:]/)[0]}} without '!' or ':'` }
      fields.push(field)
      i = end
    } else if (c === '}') {
      if (template[i + 1] === '}') { i++; continue }
      return { error: "a } has no {; write }} for a literal brace" }
    }
  }
  return { fields }
}

/** Why the server would refuse `template` for `tool` (null if it would take it). */
export function templateProblem(tool: string, template: string, placeholders: readonly string[]): string | null {
  if (!template.trim()) return `${tool}: the template is empty`
  if (template.length > MAX_TEMPLATE_CHARS) return `${tool}: the template is longer than ${MAX_TEMPLATE_CHARS} characters`
  const parsed = templateFields(template)
  if ('error' in parsed) return `${tool}: ${parsed.error}`
  const unknown = [...new Set(parsed.fields.filter((f) => !placeholders.includes(f)))].sort()
  if (unknown.length) {
    const shown = unknown.map((n) => `{${n}}`).join(', ')
    const choices = [...placeholders].sort().map((n) => `{${n}}`).join(', ')
    return `${tool}: unknown placeholder ${shown}; use ${choices}`
  }
  return null
}

export function placeholdersOf(tool: Tool): string[] {
  const listed = (tool as Tool & { placeholders?: string[] }).placeholders
  return listed && listed.length ? listed : [...BASE_PLACEHOLDERS, ...tool.params.map((p) => p.name)]
}

/** Lines of `a` not in `b` and of `b` not in `a`: enough to see how a template differs. */
export function lineDiff(base: string, mine: string): { removed: string[]; added: string[] } {
  const a = base.split('\n')
  const b = mine.split('\n')
  return { removed: a.filter((l) => !b.includes(l)), added: b.filter((l) => !a.includes(l)) }
}

export function PromptEditor({ onClose }: { onClose: () => void }) {
  const { conn, readOnly } = useArbor()
  const { tools } = useTools()
  const prompts = usePrompts()
  const editable = useMemo(() => tools.filter((t) => typeof t.template === 'string'), [tools])
  const [name, setName] = useState<string>('')
  const tool = editable.find((t) => t.name === name) ?? editable[0]
  const saved = tool ? prompts[tool.name] ?? tool.template ?? '' : ''
  const [draft, setDraft] = useState<string | null>(null)
  const value = draft ?? saved
  const problem = tool ? templateProblem(tool.name, value, placeholdersOf(tool)) : null
  const custom = !!tool && tool.name in prompts
  const diff = tool && custom ? lineDiff(tool.template ?? '', saved) : null

  // Someone else's change shows at once unless this person has an unfinished (invalid) draft.
  useEffect(() => { if (draft != null && draft === saved) setDraft(null) }, [draft, saved])

  function change(text: string) {
    if (!tool) return
    setDraft(text)
    if (templateProblem(tool.name, text, placeholdersOf(tool)) == null) {
      writePrompt(conn.doc, (fn) => conn.transact(fn), tool.name, text === tool.template ? null : text)
    }
  }

  return (
    <section className="side-panel prompt-editor" aria-labelledby="prompts-h">
      <div className="panel-head">
        <h2 id="prompts-h">Tool prompts of this canvas</h2>
        <button className="ghost small" onClick={onClose} aria-label="Close the prompts">×</button>
      </div>
      {!tool ? <p className="muted">Loading tools…</p> : (
        <>
          <label htmlFor="prompt-tool">Tool
            <select id="prompt-tool" aria-label="Tool" value={tool.name} onChange={(e) => { setName(e.target.value); setDraft(null) }}>
              {editable.map((t) => <option key={t.name} value={t.name}>{t.label}{t.name in prompts ? ' (changed)' : ''}</option>)}
            </select>
          </label>
          <label htmlFor="prompt-text">Template
            <textarea id="prompt-text" aria-label="Template" rows={8} value={value} readOnly={readOnly} spellCheck={false}
              aria-invalid={problem != null} aria-describedby="prompt-help"
              onChange={(e) => change(e.target.value)} />
          </label>
          <p id="prompt-help" className="muted small">
            Placeholders: {placeholdersOf(tool).map((p) => `{${p}}`).join(' ')}. Write {'{{'} and {'}}'} for braces.
          </p>
          {problem && <p role="alert" className="error-text small">{problem} (not saved)</p>}
          {custom ? (
            <div className="prompt-diff" role="group" aria-label="Differences from the default">
              <strong className="small">Differs from the default:</strong>
              {diff?.removed.map((l, i) => <div key={`r${i}`} className="diff-del"><span aria-hidden="true">− </span>{l || ' '}</div>)}
              {diff?.added.map((l, i) => <div key={`a${i}`} className="diff-add"><span aria-hidden="true">+ </span>{l || ' '}</div>)}
            </div>
          ) : <p className="muted small">This is the default prompt.</p>}
        </>
      )}
      {tool && custom && !readOnly && (
        <div className="row end">
          <button onClick={() => { setDraft(null); writePrompt(conn.doc, (fn) => conn.transact(fn), tool.name, null) }}>Reset to default</button>
        </div>
      )}
    </section>
  )
}
