import { useCancelNews } from '../canvas/useCancelNews'
import { useRestoreNews } from '../canvas/useRestores'

/** When someone else's action changes this person's work, say so once, with the way back:
 * a run of theirs cancelled by another ("Run again"), the canvas restored by another
 * ("Undo"). */
export function useTheirActions(): void {
  useCancelNews()
  useRestoreNews()
}
