// Bringing this person's new run outputs into view: the smallest glide that shows them.
import { READABLE_ZOOM, zoomToFit, type Box } from './fitAll'

export interface View { x: number; y: number; zoom: number }

/**
 * The viewport that shows `box` (flow coordinates) with `margin` screen pixels around it
 * in a pane of `pane` size, moving as little as possible: null when it is in view already;
 * a pan when it fits at the current zoom; else zoomed out just enough (never past a
 * readable zoom), centred on it.
 */
export function revealViewport(vp: View, pane: { width: number; height: number }, box: Box,
  margin = 40): View | null {
  const z = vp.zoom
  const m = margin / z
  const x0 = -vp.x / z
  const y0 = -vp.y / z
  const w = pane.width / z
  const h = pane.height / z
  const inX = box.x >= x0 + m && box.x + box.width <= x0 + w - m
  const inY = box.y >= y0 + m && box.y + box.height <= y0 + h - m
  if (inX && inY) return null
  if (box.width + 2 * m <= w && box.height + 2 * m <= h) {
    let nx = x0
    let ny = y0
    if (box.x < x0 + m) nx = box.x - m
    else if (box.x + box.width > x0 + w - m) nx = box.x + box.width + m - w
    if (box.y < y0 + m) ny = box.y - m
    else if (box.y + box.height > y0 + h - m) ny = box.y + box.height + m - h
    return { x: -nx * z, y: -ny * z, zoom: z }
  }
  const padded = { ...box, width: box.width + 2 * margin, height: box.height + 2 * margin }
  const zoom = Math.max(READABLE_ZOOM, Math.min(z, zoomToFit(padded, pane)))
  return {
    x: pane.width / 2 - (box.x + box.width / 2) * zoom,
    y: pane.height / 2 - (box.y + box.height / 2) * zoom,
    zoom,
  }
}
