// Upload ids: 128 random bits as 32 hex characters, never repeated, and the id syntax the stores accept.
import { describe, expect, it } from 'vitest'
import { generateId, isValidId } from '../../lib/stores/ids.js'

describe('generateId', () => {
  it('gives 32 hex characters, all different, across many refills of its random pool', () => {
    const ids = Array.from({ length: 2000 }, generateId)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/)
    expect(new Set(ids).size).toBe(ids.length)
    // Every hex digit shows up in every position: the bytes are random, not a counter or zeros.
    for (let i = 0; i < 32; i++) expect(new Set(ids.map((id) => id[i])).size).toBe(16)
  })
})

describe('isValidId', () => {
  it('accepts generated ids and URL-safe names, refuses what could leave a directory', () => {
    expect(isValidId(generateId())).toBe(true)
    expect(isValidId('a.b~c_d-e')).toBe(true)
    for (const bad of ['', '.hidden', '..', 'a/b', 'a\\b', 'a\0b', 'x'.repeat(129), 42]) expect(isValidId(bad)).toBe(false)
  })
})
