// A small fetch wrapper: bearer tokens in a header, problem+json errors as ApiError.

export class ApiError extends Error {
  status: number
  title: string
  detail: string
  retryAfter: number | null

  constructor(status: number, title: string, detail: string, retryAfter: number | null) {
    super(detail || title || `HTTP ${status}`)
    this.status = status
    this.title = title
    this.detail = detail
    this.retryAfter = retryAfter
  }

  /** A sentence for a person. */
  get friendly(): string {
    if (this.status === 429) {
      return this.retryAfter != null
        ? `Too many requests: try again in ${this.retryAfter} s.`
        : 'Too many requests: try again shortly.'
    }
    if (this.status === 0) return 'Could not reach the server. Check your connection.'
    return this.detail || this.title || `The server answered ${this.status}.`
  }
}

export function parseRetryAfter(v: string | null, now = Date.now()): number | null {
  if (!v) return null
  if (/^\d+$/.test(v.trim())) return Number(v.trim())
  const at = Date.parse(v)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000))
}

export interface RequestOptions {
  method?: string
  token?: string | null
  body?: unknown
  signal?: AbortSignal
  headers?: Record<string, string>
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers }
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`
  let body: BodyInit | undefined
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(opts.body)
  }
  let res: Response
  try {
    res = await fetch(path, {
      method: opts.method ?? 'GET', headers, body, signal: opts.signal, credentials: 'same-origin',
    })
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e
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
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}
