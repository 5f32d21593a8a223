import { describe, expect, it } from 'vitest'
import { de, en, LANGUAGES, pickLanguage, translate, type MessageKey } from './i18n.js'

describe('dictionaries', () => {
  it('German and English have exactly the same keys', () => {
    expect(Object.keys(de).sort()).toEqual(Object.keys(en).sort())
  })

  it('no message is empty and both use the same placeholders', () => {
    const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
    for (const key of Object.keys(en) as MessageKey[]) {
      expect(en[key].trim(), key).not.toBe('')
      expect(de[key].trim(), key).not.toBe('')
      expect(placeholders(de[key]), key).toEqual(placeholders(en[key]))
    }
  })

  it('German is really translated (most messages differ from English)', () => {
    const same = (Object.keys(en) as MessageKey[]).filter((k) => en[k] === de[k])
    expect(same.length).toBeLessThan(Object.keys(en).length / 10)
  })
})

describe('pickLanguage', () => {
  it('takes the first language of the browser that the page speaks', () => {
    expect(pickLanguage(['de-DE', 'en'])).toBe('de')
    expect(pickLanguage(['fr-FR', 'en-US', 'de'])).toBe('en')
    expect(pickLanguage(['DE-at'])).toBe('de')
  })
  it('falls back to English', () => {
    expect(pickLanguage([])).toBe('en')
    expect(pickLanguage(['fr', 'pl'])).toBe('en')
  })
})

describe('translate', () => {
  it('fills placeholders and leaves unknown ones visible', () => {
    expect(translate('en', 'now.meter', { id: 'm-1' })).toBe('Meter m-1')
    expect(translate('de', 'now.meter', { id: 'm-1' })).toBe('Zähler m-1')
    expect(translate('en', 'now.meter')).toBe('Meter {id}')
  })
  it('covers both languages', () => {
    expect(LANGUAGES).toEqual(['de', 'en'])
  })
})
