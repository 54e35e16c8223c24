import { describe, expect, it } from 'vitest'
import { humanize, listNames, peopleLabels } from './labels'

describe('labels', () => {
  it('turns ids into words', () => {
    expect(humanize('generate_image')).toBe('Generate image')
    expect(humanize('offline:text')).toBe('Offline text')
    expect(humanize('image_to_json')).toBe('Image to json')
    expect(humanize(null)).toBe('')
  })

  it('names people, never the server', () => {
    expect(peopleLabels(['Arbor', 'Ada', 'restore', 'Ada', ' '])).toEqual(['Ada', 'tool runs'])
    expect(listNames(['Ada', 'Ben', 'Cy'])).toBe('Ada, Ben and Cy')
    expect(listNames(['Ada', 'Ben', 'Cy', 'Di'])).toBe('Ada, Ben and 2 others')
  })
})
