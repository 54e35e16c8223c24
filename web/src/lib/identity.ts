// Who this browser is to others: a random id, a display name and a colour.

export interface Identity {
  id: string
  name: string
  color: string
  noFollow: boolean
  /** Made up for this browser (not chosen by the person): it may change to stay unlike
   * the names and colours of people already on a canvas. Kept only in this browser. */
  generated?: boolean
}

// Mid-dark colours: white text on them, and them on white, stay above 4.5:1.
export const COLORS = ['#b42318', '#b54708', '#027a48', '#0e7090', '#175cd3', '#5925dc', '#c11574', '#4d5761']
/** What each colour is called (for screen readers and tooltips: words, not hex codes). */
export const COLOR_NAMES: Record<string, string> = {
  '#b42318': 'Red', '#b54708': 'Orange', '#027a48': 'Green', '#0e7090': 'Teal',
  '#175cd3': 'Blue', '#5925dc': 'Violet', '#c11574': 'Pink', '#4d5761': 'Slate',
}

// Friendly made-up names, as tldraw and Excalidraw give: nobody fills in a form to join.
const ADJECTIVES = [
  'Curious', 'Brave', 'Gentle', 'Clever', 'Sunny', 'Quiet', 'Bold', 'Swift', 'Merry', 'Calm',
  'Bright', 'Lucky', 'Nimble', 'Witty', 'Cosy', 'Keen', 'Jolly', 'Dreamy', 'Plucky', 'Wise',
  'Breezy', 'Daring', 'Eager', 'Fuzzy', 'Happy', 'Kind', 'Lively', 'Mellow', 'Noble', 'Peppy',
]
const ANIMALS = [
  'Otter', 'Fox', 'Heron', 'Badger', 'Panda', 'Lynx', 'Falcon', 'Koala', 'Robin', 'Walrus',
  'Beaver', 'Dolphin', 'Gecko', 'Hedgehog', 'Ibis', 'Jaguar', 'Lemur', 'Marmot', 'Newt', 'Owl',
  'Puffin', 'Quokka', 'Raven', 'Seal', 'Tapir', 'Yak', 'Zebra', 'Wombat', 'Crane', 'Moose',
]

const pick = <T,>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]

/** A friendly name ("Curious Otter") other than those in `taken`, when one is left. */
export function generateName(taken: Iterable<string> = []): string {
  const avoid = new Set(taken)
  for (let i = 0; i < 50; i++) {
    const name = `${pick(ADJECTIVES)} ${pick(ANIMALS)}`
    if (!avoid.has(name)) return name
  }
  return `${pick(ADJECTIVES)} ${pick(ANIMALS)} ${Math.floor(Math.random() * 90) + 10}`
}

/** A colour not in `taken` while one is left, else any. */
export function pickColor(taken: Iterable<string> = []): string {
  const avoid = new Set(taken)
  const free = COLORS.filter((c) => !avoid.has(c))
  return pick(free.length ? free : COLORS)
}

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
    return {
      id: v.id, name: v.name, color: typeof v.color === 'string' ? v.color : COLORS[0], noFollow: v.noFollow === true,
      ...(v.generated === true ? { generated: true } : {}),
    }
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

/** This browser's identity, or a new generated one (saved) on the first visit: a share
 * link opens straight onto the canvas, and the name can be changed from the avatar menu. */
export function loadOrCreateIdentity(): Identity {
  const known = loadIdentity()
  if (known) return known
  const made: Identity = { ...newIdentity(generateName(), pickColor()), generated: true }
  saveIdentity(made)
  return made
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean)
  return ((parts[0]?.[0] ?? '?') + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase()
}
