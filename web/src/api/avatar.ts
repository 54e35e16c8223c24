// Set or remove this person's avatar: the image itself is the request body (the server
// runs it through the image pipeline and answers the identity with its new avatar_url).
import { ApiError, parseRetryAfter } from './client'
import type { Identity } from './gallery'

/** The types the server's image pipeline accepts (sync/images.py ACCEPTED_TYPES). */
export const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/avif']

async function send(method: 'PUT' | 'DELETE', file?: File): Promise<Identity> {
  let res: Response
  try {
    res = await fetch('/api/identity/avatar', {
      method,
      body: file,
      credentials: 'same-origin',
      headers: { Accept: 'application/json', 'X-Arbor-CSRF': '1', ...(file ? { 'Content-Type': file.type } : {}) },
    })
  } catch {
    throw new ApiError(0, 'Network error', '', null)
  }
  if (!res.ok) {
    let title = res.statusText
    let detail = ''
    try {
      const p = (await res.json()) as { title?: unknown; detail?: unknown }
      if (typeof p.title === 'string') title = p.title
      if (typeof p.detail === 'string') detail = p.detail
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(res.status, title, detail, parseRetryAfter(res.headers.get('Retry-After')))
  }
  return (await res.json()) as Identity
}

export const setAvatar = (file: File) => send('PUT', file)
export const removeAvatar = () => send('DELETE')
