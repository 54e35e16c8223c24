import { useEffect, useState } from 'react'
import { api } from '../../api/client'
import './oidc.css'

interface OidcInfo { configured: boolean; name: string | null }

/** "Sign in with …": shown only when the deployment configures an OpenID Connect provider
 *  (`GET /api/auth/oidc`). A plain link, since the sign-in is a round trip of redirects
 *  through the provider; an account with no handle comes back to pick one. `link`: on
 *  your own profile, link that account to your handle (sign in with it on a new device). */
export function OidcSignIn({ link = false }: { link?: boolean }) {
  const [info, setInfo] = useState<OidcInfo | null>(null)
  useEffect(() => {
    const ctl = new AbortController()
    api<OidcInfo>('/api/auth/oidc', { signal: ctl.signal }).then(setInfo, () => setInfo(null))
    return () => ctl.abort()
  }, [])
  if (!info?.configured || !info.name) return null
  return (
    <p className="oidc-sign-in">
      {link
        ? <a className="button" href="/api/auth/oidc/start?link=1">Link your {info.name} account</a>
        : <a className="button" href="/api/auth/oidc/start">Sign in with {info.name}</a>}
    </p>
  )
}
