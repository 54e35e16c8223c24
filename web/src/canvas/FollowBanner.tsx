export function FollowBanner({ name, color, onStop }: { name: string; color: string; onStop: () => void }) {
  return (
    <div className="follow-banner" style={{ borderColor: color }} role="status">
      <span>Following <strong>{name}</strong></span>
      <button className="small" onClick={onStop}>Stop following</button>
    </div>
  )
}
