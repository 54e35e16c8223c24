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

export const createRoom = (title: string) =>
  api<RoomLinks>('/api/rooms', { method: 'POST', body: { title } })

export const getRoom = (room: string, token: string, signal?: AbortSignal) =>
  api<RoomInfo>(`/api/rooms/${encodeURIComponent(room)}`, { token, signal })

export const rotateLinks = (room: string, editToken: string) =>
  api<RoomLinks>(`/api/rooms/${encodeURIComponent(room)}/links/rotate`, {
    method: 'POST', token: editToken,
  })
