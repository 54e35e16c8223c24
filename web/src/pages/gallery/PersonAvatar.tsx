import './avatar.css'

/** A person's avatar, or (at 40 px and more: a profile, a dialog) the first letter of
 *  their name on a tinted disc when they have none; small ones (cards, author lines) show
 *  nothing then. Decorative (alt=""): their name is always written next to it. */
export function PersonAvatar({ url, name, size = 24 }: { url?: string | null; name: string; size?: number }) {
  const style = { width: size, height: size, fontSize: Math.round(size * 0.45) }
  if (url) {
    return <img className="person-avatar" src={url} alt="" width={size} height={size} style={style}
      loading="lazy" decoding="async" />
  }
  if (size < 40) return null
  const letter = Array.from(name.trim())[0]?.toUpperCase() ?? '?'
  return <span className="person-avatar person-avatar-letter" aria-hidden="true" style={style}>{letter}</span>
}
