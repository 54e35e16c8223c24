// Who this browser is to others: a random id, a display name and a colour.

export interface Identity {
  id: string
  name: string
  color: string
  noFollow: boolean
}

// Mid-dark colours: white text on them, and them on white, stay above 4.5:1.
export const COLORS = ['#b42318', '#b54708', '#027a48', '#0e7090', '#175cd3', '#5925dc', '#c11574', '#4d5761']

const KEY = 'arbor.identity'

export function randomId(): string {
  const b = new Uint8Array(16)
  crypto.getRandomValues(b)
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

export function loadIdentity(): Identity | null {
  try {
    const raw = localStorage.getItem(KEY)
    if (!raw) return null
    const v = JSON.parse(raw) as Partial<Identity>
    if (typeof v.id !== 'string' || typeof v.name !== 'string' || !v.name.trim()) return null
    return { id: v.id, name: v.name, color: typeof v.color === 'string' ? v.color : COLORS[0], noFollow: v.noFollow === true }
  } catch {
    return null
  }
}

export function saveIdentity(i: Identity): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(i))
  } catch {
    // private mode: the identity lasts this visit only
  }
}

export function newIdentity(name: string, color?: string): Identity {
  return { id: randomId(), name: name.trim().slice(0, 40), color: color ?? COLORS[Math.floor(Math.random() * COLORS.length)], noFollow: false }
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean)
  return ((parts[0]?.[0] ?? '?') + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase()
}
