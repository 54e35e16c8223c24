import { api, ApiError } from './client'
import type { ImageRef } from '../sync/schema'

interface UploadTicket {
  upload_id: string
  url: string
  method?: string
  headers?: Record<string, string>
}

export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024

/** Presigned upload of an image file into block `blockId`; the server then sets `image`. */
export async function uploadImage(room: string, token: string, blockId: string, file: File): Promise<ImageRef> {
  const base = `/api/rooms/${encodeURIComponent(room)}/uploads`
  const ticket = await api<UploadTicket>(base, {
    method: 'POST', token,
    body: { filename: file.name || 'image', content_type: file.type, size: file.size, block_id: blockId },
  })
  let res: Response
  try {
    res = await fetch(ticket.url, {
      method: ticket.method ?? 'PUT',
      headers: ticket.headers ?? { 'Content-Type': file.type },
      body: file,
    })
  } catch {
    throw new ApiError(0, 'Network error', 'The image could not be sent.', null)
  }
  if (!res.ok) throw new ApiError(res.status, 'Upload failed', `The image store answered ${res.status}.`, null)
  const done = await api<{ image: ImageRef }>(`${base}/${encodeURIComponent(ticket.upload_id)}/complete`, {
    method: 'POST', token,
  })
  return done.image
}

export function imageUrl(room: string, key: string, token: string): string {
  // Images are loaded by <img>, which cannot send a header: the token goes as a query here.
  return `/api/rooms/${encodeURIComponent(room)}/images/${encodeURIComponent(key)}?token=${encodeURIComponent(token)}`
}
