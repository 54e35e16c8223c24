export function FollowBanner({ name, color, spotlight, onStop }: {
  name: string; color: string; spotlight?: boolean; onStop: () => void
}) {
  return (
    <div className="follow-banner" style={{ borderColor: color }} role="status">
      <span>Following <strong>{name}</strong>{spotlight ? ' (they asked everyone to follow)' : ''}</span>
      <button className="small" onClick={onStop}>Stop following</button>
    </div>
  )
}
