// The gallery API: identity (cookie), posts, likes, follows, reports, remix, publish.
// Every write sends X-Arbor-CSRF: 1 (and the browser adds Origin), as the server requires.
import { ApiError, api } from './client'
import type { RoomLinks } from './rooms'

export interface Identity {
  handle: string
  display_name: string
  bio: string
  /** The public URL of their 256 px square avatar, or null for none. */
  avatar_url: string | null
  recovery_url: string
}

export interface Author {
  handle: string
  display_name: string
  avatar_url?: string | null
}

export interface ImageUrls {
  url: string
  thumb_url: string
  small_url: string
}

export interface PostImage extends ImageUrls {
  key: string
  width: number
  height: number
  mime: string
}

export interface LineageImage {
  key: string
  width: number
  height: number
  mime?: string
  thumbKey?: string
  url?: string
  thumb_url?: string
  small_url?: string
}

export interface LineageStep {
  block_id: string
  kind: string
  tool: string | null
  text: string
  image: LineageImage | null
  parents: string[]
}

export interface PostSummary {
  id: string
  title: string
  description: string
  author: Author
  created_at: string
  like_count: number
  liked_by_me: boolean
  include_prompts: boolean
  image: PostImage
  remixed_from_id: string | null
  is_author: boolean
  /** Who grew it: names at publishing time (the image's author first), others counted. */
  credits?: { names: string[]; others: number }
  /** The model that made an image posted from elsewhere, as its author wrote it ('' if none). */
  model?: string
}

export interface Post extends PostSummary {
  lineage: LineageStep[] | null
  remixed_from: { id: string; title: string; author: Author } | null
  hidden: boolean
}

export interface PostPage {
  posts: PostSummary[]
  next_cursor: string | null
}

export interface Profile extends PostPage {
  handle: string
  display_name: string
  avatar_url: string | null
  bio: string
  created_at: string
  followers: number
  following: number
  followed_by_me: boolean
  is_me: boolean
}

export type Sort = 'new' | 'top'
/** How far back "top" looks: today, this week, all time. */
export type Period = 'day' | 'week' | 'all'

interface CallOptions {
  method?: string
  body?: unknown
  token?: string
  signal?: AbortSignal
}

/** The gallery's writes are cookie-authenticated: they carry the CSRF header. */
async function call<T>(path: string, opts: CallOptions = {}): Promise<T> {
  const method = opts.method ?? 'GET'
  return api<T>(path, { ...opts, headers: method === 'GET' ? undefined : { 'X-Arbor-CSRF': '1' } })
}

const enc = encodeURIComponent

function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** The identity of this browser, or null when it has not claimed a handle. */
export async function getIdentity(signal?: AbortSignal): Promise<Identity | null> {
  try {
    return await call<Identity>('/api/identity', { signal })
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null
    throw e
  }
}

export const claimHandle = (handle: string, displayName?: string) =>
  call<Identity>('/api/identity', { method: 'POST', body: { handle, display_name: displayName || undefined } })

export const recoverIdentity = (secret: string) =>
  call<Identity>('/api/identity/recover', { method: 'POST', body: { secret } })

export const listPosts = (sort: Sort, cursor?: string | null, limit = 24, signal?: AbortSignal, period?: Period) =>
  call<PostPage>(`/api/posts${query({ sort, period: sort === 'top' ? period : null, cursor, limit })}`, { signal })

/** How many posts were published after `than` (the newest the feed shows), in all the
 *  gallery or (`following`) by people this person follows; `more`: over 99. */
export const newerPosts = (than: string, signal?: AbortSignal, following = false) =>
  call<{ count: number; more: boolean }>(`/api/posts/newer${query({ than, feed: following ? 'following' : null })}`, { signal })

/** Change this person's display name and/or bio (only their own). */
export const updateProfile = (changes: { display_name?: string; bio?: string }) =>
  call<Identity>('/api/identity', { method: 'PATCH', body: changes })

export const followingFeed = (cursor?: string | null, limit = 24, signal?: AbortSignal) =>
  call<PostPage>(`/api/feed/following${query({ cursor, limit })}`, { signal })

export const getPost = (id: string, signal?: AbortSignal) => call<Post>(`/api/posts/${enc(id)}`, { signal })

export const deletePost = (id: string) => call<void>(`/api/posts/${enc(id)}`, { method: 'DELETE' })

export const likePost = (id: string, like: boolean) =>
  call<{ like_count: number; liked_by_me: boolean }>(`/api/posts/${enc(id)}/like`, { method: like ? 'POST' : 'DELETE' })

export const reportPost = (id: string, reason: string) =>
  call<{ reported: boolean }>(`/api/posts/${enc(id)}/report`, { method: 'POST', body: { reason } })

export const remixPost = (id: string) =>
  call<RoomLinks & { post_id: string }>(`/api/posts/${enc(id)}/remix`, { method: 'POST' })

export const getProfile = (handle: string, cursor?: string | null, limit = 24, signal?: AbortSignal) =>
  call<Profile>(`/api/people/${enc(handle)}${query({ cursor, limit })}`, { signal })

export const setFollow = (handle: string, follow: boolean) =>
  call<{ following: boolean; followers: number }>(`/api/people/${enc(handle)}/follow`, { method: follow ? 'POST' : 'DELETE' })

export const roomLineage = (room: string, block: string, token: string, signal?: AbortSignal) =>
  call<{ room: string; block_id: string; lineage: LineageStep[] }>(
    `/api/rooms/${enc(room)}/lineage/${enc(block)}`, { token, signal })

export interface PublishRequest {
  block_id: string
  title: string
  description?: string
  include_prompts: boolean
}

export const publishBlock = (room: string, token: string, body: PublishRequest) =>
  call<Post>(`/api/rooms/${enc(room)}/publish`, { method: 'POST', token, body })

/** The secret in a recovery link's fragment ("#secret=..."). */
export function secretFromHash(hash: string): string | null {
  const h = hash.startsWith('#') ? hash.slice(1) : hash
  const s = new URLSearchParams(h).get('secret')
  return s && /^[A-Za-z0-9_-]{20,200}$/.test(s) ? s : null
}

export const TITLE_MAX = 120
export const DESCRIPTION_MAX = 2000
export const BIO_MAX = 280
export const DISPLAY_NAME_MAX = 50
export const HANDLE_PATTERN = /^[a-z0-9_]{3,30}$/
