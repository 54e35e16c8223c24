import { useEffect } from 'react'

/** The tab's title while this page is shown (the server already put the same title in the
 * page it sent; this keeps it right as the app moves between pages). */
export function useDocumentTitle(title: string | null): void {
  useEffect(() => {
    if (title) document.title = title
  }, [title])
}
