import { api } from './client'

export interface RoomLinks {
  room: string
  edit_token: string
  view_token: string
  edit_url: string
  view_url: string
}

export type Role = 'edit' | 'view'

export interface RoomInfo {
  room: string
  role: Role
  created_at: string
}

/** A new canvas; `firstPrompt`: it starts with one empty text block (made by the server,
 * so two people opening it at once find the same one). */
export const createRoom = (title: string, firstPrompt = false) =>
  api<RoomLinks>('/api/rooms', { method: 'POST', body: { title, first_prompt: firstPrompt } })

export const getRoom = (room: string, token: string, signal?: AbortSignal) =>
  api<RoomInfo>(`/api/rooms/${encodeURIComponent(room)}`, { token, signal })

export const rotateLinks = (room: string, editToken: string) =>
  api<RoomLinks>(`/api/rooms/${encodeURIComponent(room)}/links/rotate`, {
    method: 'POST', token: editToken,
  })
