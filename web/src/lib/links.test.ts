import { describe, expect, it } from 'vitest'
import { parseShareLink, roomFromPath, roomLink, tokenFromHash, wsBase } from './links'

describe('links', () => {
  it('reads the token from the fragment', () => {
    expect(tokenFromHash('#token=abcDEF123_-xyz')).toBe('abcDEF123_-xyz')
    expect(tokenFromHash('token=abcDEF123_-xyz&x=1')).toBe('abcDEF123_-xyz')
    expect(tokenFromHash('')).toBeNull()
    expect(tokenFromHash('#token=')).toBeNull()
    expect(tokenFromHash('#token=bad token<script>')).toBeNull()
  })

  it('reads the room from the path', () => {
    expect(roomFromPath('/r/AbCdEfGh12')).toBe('AbCdEfGh12')
    expect(roomFromPath('/r/AbCdEfGh12/')).toBe('AbCdEfGh12')
    expect(roomFromPath('/r/short')).toBeNull()
    expect(roomFromPath('/gallery')).toBeNull()
  })

  it('round-trips a share link', () => {
    const url = roomLink('https://arbor.example', 'room_1234', 'tok_abcdefgh')
    expect(url).toBe('https://arbor.example/r/room_1234#token=tok_abcdefgh')
    expect(parseShareLink(url)).toEqual({ room: 'room_1234', token: 'tok_abcdefgh' })
    expect(parseShareLink('not a url')).toBeNull()
  })

  it('picks ws or wss from the page', () => {
    expect(wsBase({ protocol: 'https:', host: 'a.b:1' })).toBe('wss://a.b:1')
    expect(wsBase({ protocol: 'http:', host: 'localhost:8123' })).toBe('ws://localhost:8123')
  })
})
