/** Arbor's mark: a small branching tree. */
export function Logo({ size = 24 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path d="M12 22V11M12 15l-5-4M12 13l5-5" stroke="#027a48" strokeWidth="2.2" strokeLinecap="round" fill="none" />
      <circle cx="12" cy="7" r="4" fill="#12b76a" />
      <circle cx="6" cy="10" r="2.6" fill="#32d583" />
      <circle cx="18" cy="7" r="2.6" fill="#039855" />
    </svg>
  )
}
