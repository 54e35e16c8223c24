import type { ReactNode } from 'react'
import { navigate } from '../../App'

/** An in-app link: a real <a href> (new tab works), client-side navigation on a plain click. */
export function GalleryLink({ to, children, className, label }: { to: string; children: ReactNode; className?: string; label?: string }) {
  return (
    <a href={to} className={className} aria-label={label}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
        e.preventDefault()
        navigate(to)
      }}>
      {children}
    </a>
  )
}
