// Post your own art: an image made elsewhere, with its prompt and model. The page makes a
// canvas for it, sends the image through the ordinary upload pipeline (announce, PUT,
// complete), then asks the server to write the prompt and the image into that canvas and
// publish it (POST /api/rooms/{room}/own-art): the post remixes like any other.
import { api, ApiError } from './client'
import type { Post } from './gallery'
import { createRoom, type RoomLinks } from './rooms'

export const MODEL_MAX = 120
export const PROMPT_MAX = 4000

export interface OwnArt {
  file: File
  title: string
  prompt: string
  model: string
  description: string
}

interface UploadTicket { upload_id: string; url: string; method?: string; headers?: Record<string, string> }

async function upload(room: RoomLinks, file: File): Promise<string> {
  const base = `/api/rooms/${encodeURIComponent(room.room)}/uploads`
  const token = room.edit_token
  const ticket = await api<UploadTicket>(base, {
    method: 'POST', token, body: { filename: file.name || 'image', content_type: file.type, size: file.size },
  })
  let res: Response
  try {
    res = await fetch(ticket.url, { method: ticket.method ?? 'PUT', headers: ticket.headers ?? { 'Content-Type': file.type }, body: file })
  } catch {
    throw new ApiError(0, 'Network error', 'The image could not be sent.', null)
  }
  if (!res.ok) throw new ApiError(res.status, 'Upload failed', `The image store answered ${res.status}.`, null)
  const done = await api<{ image: { key: string } }>(`${base}/${encodeURIComponent(ticket.upload_id)}/complete`, { method: 'POST', token })
  return done.image.key
}

/** Post the art; the new post (its canvas's links: `room`). */
export async function postOwnArt(art: OwnArt): Promise<{ post: Post; room: RoomLinks }> {
  const room = await createRoom(art.title)
  const imageKey = await upload(room, art.file)
  const post = await api<Post>(`/api/rooms/${encodeURIComponent(room.room)}/own-art`, {
    method: 'POST', token: room.edit_token, headers: { 'X-Arbor-CSRF': '1' },
    body: { image_key: imageKey, title: art.title, prompt: art.prompt, model: art.model, description: art.description },
  })
  return { post, room }
}
