// Choosing an image file (phones cannot drop one): a hidden file input, clicked from the
// person's own click or key press so the browser allows it.

/** Opens the system file picker for one image; resolves with it, or null if none was chosen. */
export function pickImage(): Promise<File | null> {
  return new Promise((resolve) => {
    const input = document.createElement('input')
    input.type = 'file'
    input.accept = 'image/*'
    input.hidden = true
    input.setAttribute('aria-hidden', 'true')
    const done = (f: File | null) => { input.remove(); resolve(f) }
    input.addEventListener('change', () => done(input.files?.[0] ?? null), { once: true })
    input.addEventListener('cancel', () => done(null), { once: true })
    document.body.appendChild(input)
    input.click()
  })
}
