// Small line icons for the top bar and menus (decorative: the button's words name it).
const PATHS: Record<string, string> = {
  text: 'M4 6V4h12v2M10 4v13M7 17h6M17 13v6M14 16h6',
  image: 'M3 5h13v10H3zM3 13l4-4 4 4 2-2 3 3M7.5 8a1 1 0 1 0 0-.1M18 14v6M15 17h6',
  undo: 'M8 5L4 9l4 4M4 9h10a5 5 0 0 1 0 10h-3',
  redo: 'M16 5l4 4-4 4M20 9H10a5 5 0 0 0 0 10h3',
  fit: 'M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5',
  eye: 'M2 12s3.5-6 10-6 10 6 10 6-3.5 6-10 6S2 12 2 12zM12 9.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5',
  menu: 'M4 6h16M4 12h16M4 18h16',
  spot: 'M12 3v2M12 19v2M3 12h2M19 12h2M5.6 5.6L7 7M17 17l1.4 1.4M5.6 18.4L7 17M17 7l1.4-1.4M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8z',
  queue: 'M4 6h11M4 12h11M4 18h7M18 15v6M18 15l3 3M18 15l-3 3',
  history: 'M3 12a9 9 0 1 0 3-6.7L3 8M3 3v5h5M12 7v5l3 2',
  prompts: 'M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4',
  spend: 'M12 3v18M16.5 7.5c-.8-1.2-2.5-2-4.5-2-2.5 0-4 1.3-4 3s1.5 2.6 4 3.2 4 1.5 4 3.3-1.7 3-4.2 3c-2 0-3.6-.8-4.4-2.2',
  keys: 'M14.5 9.5a4.5 4.5 0 1 0-3.9 4.46L9 15.5V18h2.5v2H14v-2.5l1.2-1.2M15 6h.01',
  branch: 'M6 3v12M6 15a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM18 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM18 9c0 6-12 3-12 6',
}

export function Icon({ name, size = 18 }: { name: keyof typeof PATHS | string; size?: number }) {
  return (
    <svg className={`icon icon-${name}`} width={size} height={size} viewBox="0 0 24 24" aria-hidden="true"
      focusable="false" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round"
      strokeLinejoin="round">
      <path d={PATHS[name] ?? ''} />
    </svg>
  )
}
