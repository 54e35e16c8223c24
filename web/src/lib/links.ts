// Share links keep the token in the URL fragment, so it never reaches a server in a
// request line, a Referer or a log. Only the websocket carries it, as ?token=.

/** The token in a fragment like "#token=abc" (also tolerates other fragment params). */
export function tokenFromHash(hash: string): string | null {
  const h = hash.startsWith('#') ? hash.slice(1) : hash
  if (!h) return null
  const params = new URLSearchParams(h)
  const t = params.get('token')
  return t && /^[A-Za-z0-9_-]{8,200}$/.test(t) ? t : null
}

/** The room id in a path like "/r/{room}", or null. */
export function roomFromPath(path: string): string | null {
  const m = /^\/r\/([A-Za-z0-9_-]{8,64})\/?$/.exec(path)
  return m ? m[1] : null
}

export function roomLink(origin: string, room: string, token: string): string {
  return `${origin}/r/${encodeURIComponent(room)}#token=${encodeURIComponent(token)}`
}

/** Split a full share link (as the server returns it) into room and token. */
export function parseShareLink(url: string): { room: string; token: string } | null {
  try {
    const u = new URL(url)
    const room = roomFromPath(u.pathname)
    const token = tokenFromHash(u.hash)
    return room && token ? { room, token } : null
  } catch {
    return null
  }
}

export function wsBase(loc: { protocol: string; host: string }): string {
  return (loc.protocol === 'https:' ? 'wss://' : 'ws://') + loc.host
}
