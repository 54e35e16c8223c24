// A small, safe markdown renderer (headings, bold, italic, code, lists, links): React
// elements only, never raw HTML.
import { Fragment, type ReactNode } from 'react'

function inline(text: string, key: string): ReactNode[] {
  const out: ReactNode[] = []
  const re = /(\*\*[^*]+\*\*|\*[^*]+\*|_[^_]+_|`[^`]+`|\[[^\]]+\]\(https?:\/\/[^)\s]+\))/g
  let last = 0
  let m: RegExpExecArray | null
  let i = 0
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index))
    const t = m[0]
    const k = `${key}-${i++}`
    if (t.startsWith('**')) out.push(<strong key={k}>{t.slice(2, -2)}</strong>)
    else if (t.startsWith('`')) out.push(<code key={k}>{t.slice(1, -1)}</code>)
    else if (t.startsWith('[')) {
      const mm = /^\[([^\]]+)\]\((.+)\)$/.exec(t)!
      out.push(<a key={k} href={mm[2]} target="_blank" rel="noreferrer noopener">{mm[1]}</a>)
    } else out.push(<em key={k}>{t.slice(1, -1)}</em>)
    last = m.index + t.length
  }
  if (last < text.length) out.push(text.slice(last))
  return out
}

export function Markdown({ text }: { text: string }) {
  const lines = text.split('\n')
  const blocks: ReactNode[] = []
  let list: ReactNode[] = []
  const flush = (k: number) => {
    if (list.length) blocks.push(<ul key={`ul${k}`}>{list}</ul>)
    list = []
  }
  lines.forEach((line, i) => {
    const h = /^(#{1,3})\s+(.*)$/.exec(line)
    const li = /^\s*[-*]\s+(.*)$/.exec(line)
    if (li) {
      list.push(<li key={i}>{inline(li[1], `l${i}`)}</li>)
      return
    }
    flush(i)
    if (h) {
      const level = h[1].length
      const content = inline(h[2], `h${i}`)
      blocks.push(level === 1 ? <h3 key={i}>{content}</h3> : level === 2 ? <h4 key={i}>{content}</h4> : <h5 key={i}>{content}</h5>)
    } else if (line.trim() === '') {
      blocks.push(<Fragment key={i}><div className="md-gap" /></Fragment>)
    } else {
      blocks.push(<p key={i}>{inline(line, `p${i}`)}</p>)
    }
  })
  flush(lines.length)
  return <div className="md">{blocks}</div>
}
