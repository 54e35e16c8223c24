/** "3 new posts": a button that shows them (the feed reloads from its top). It sits in a
 *  polite live region, so a screen reader hears of new posts without losing its place. */
export function NewPostsNotice({ found, onShow }: {
  found: { count: number; more: boolean } | null
  onShow: () => void
}) {
  const n = found?.count ?? 0
  const label = found?.more ? '99+ new posts' : `${n} new ${n === 1 ? 'post' : 'posts'}`
  return (
    <div className="new-posts" role="status" aria-live="polite">
      {n > 0 && <button type="button" className="new-posts-button" onClick={onShow}>↑ {label}</button>}
    </div>
  )
}
