import { useEffect, useState, type FormEvent } from 'react'
import { COLORS, COLOR_NAMES, type Identity } from '../lib/identity'
import './me.css'

/** Change the name and colour others see (opened from this person's avatar menu; nobody
 * has to fill it in to join: a first visit gets a made-up name and colour). */
export function NameDialog({ current, onDone, onCancel }: {
  current: Identity; onDone: (i: Identity) => void; onCancel: () => void
}) {
  const [name, setName] = useState(current.name)
  const [color, setColor] = useState(current.color)
  useEffect(() => {
    const esc = (e: KeyboardEvent) => { if (e.key === 'Escape') onCancel() }
    window.addEventListener('keydown', esc)
    return () => window.removeEventListener('keydown', esc)
  }, [onCancel])
  function submit(e: FormEvent) {
    e.preventDefault()
    if (!name.trim()) return
    // Chosen now: no longer replaced when someone else on the canvas has the same.
    onDone({ id: current.id, noFollow: current.noFollow, name: name.trim().slice(0, 40), color })
  }
  return (
    <div className="modal-backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget) onCancel() }}>
      <form className="modal" role="dialog" aria-modal="true" onSubmit={submit} aria-labelledby="name-h">
        <h2 id="name-h">Your name and colour</h2>
        <label htmlFor="display-name">Name others see</label>
        <input id="display-name" autoFocus value={name} maxLength={40} onChange={(e) => setName(e.target.value)}
          onFocus={(e) => e.target.select()} />
        <fieldset className="swatches" role="radiogroup" aria-label="Colour">
          <legend>Colour: {COLOR_NAMES[color] ?? 'custom'}</legend>
          {COLORS.map((c) => (
            <label key={c} className={`swatch${c === color ? ' chosen' : ''}`} style={{ background: c }}
              title={COLOR_NAMES[c]}>
              <input type="radio" name="color" value={c} checked={c === color} onChange={() => setColor(c)}
                aria-label={COLOR_NAMES[c] ?? c} />
            </label>
          ))}
        </fieldset>
        <div className="row end">
          <button type="button" onClick={onCancel}>Cancel</button>
          <button className="primary" type="submit" disabled={!name.trim()}>Save</button>
        </div>
      </form>
    </div>
  )
}
