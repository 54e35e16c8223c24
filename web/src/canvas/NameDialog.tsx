import { useState, type FormEvent } from 'react'
import { COLORS, newIdentity, type Identity } from '../lib/identity'

/** First visit: a display name and a colour that others see. */
export function NameDialog({ onDone, current }: { onDone: (i: Identity) => void; current?: Identity }) {
  const [name, setName] = useState(current?.name ?? '')
  const [color, setColor] = useState(current?.color ?? COLORS[Math.floor(Math.random() * COLORS.length)])
  function submit(e: FormEvent) {
    e.preventDefault()
    if (!name.trim()) return
    onDone(current ? { ...current, name: name.trim().slice(0, 40), color } : newIdentity(name, color))
  }
  return (
    <div className="modal-backdrop">
      <form className="modal" onSubmit={submit} aria-labelledby="name-h">
        <h2 id="name-h">{current ? 'Your name and colour' : 'What should others call you?'}</h2>
        <label htmlFor="display-name">Display name</label>
        <input id="display-name" autoFocus value={name} maxLength={40} onChange={(e) => setName(e.target.value)} />
        <fieldset className="swatches">
          <legend>Colour</legend>
          {COLORS.map((c) => (
            <label key={c} className="swatch" style={{ background: c }}>
              <input type="radio" name="color" value={c} checked={c === color} onChange={() => setColor(c)}
                aria-label={`Colour ${c}`} />
            </label>
          ))}
        </fieldset>
        <div className="row end">
          <button className="primary" type="submit" disabled={!name.trim()}>{current ? 'Save' : 'Join the canvas'}</button>
        </div>
      </form>
    </div>
  )
}
