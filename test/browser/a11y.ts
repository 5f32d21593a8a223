import type { Page } from 'playwright-core'

/*
 * Accessibility checks written here (axe-like, small): run in the page, return findings.
 * - the document has a `lang` attribute and a title;
 * - every visible input, select and textarea has a label (label[for], a wrapping label,
 *   aria-label or aria-labelledby); every button and link has a name;
 * - every image (img, role=img) has alt text or an aria-label;
 * - headings start at h1 and never skip a level downwards;
 * - every visible text has contrast ≥ 4.5:1 against its effective background
 *   (3:1 for large text), WCAG 2.1 SC 1.4.3 relative luminance.
 * A string, not a function: the test runner's transform must not reach into the page.
 */
const CHECK = String.raw`(() => {
  const problems = []
  const visible = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el); return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' }
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '')
  if (!document.documentElement.lang) problems.push('html has no lang attribute')
  if (!document.title) problems.push('document has no title')
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue
    const labelled = (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) || el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
    if (!labelled) problems.push('control without label: ' + describe(el))
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!visible(el)) continue
    if (!(el.textContent || '').trim() && !el.getAttribute('aria-label')) problems.push('control without name: ' + describe(el))
  }
  for (const el of document.querySelectorAll('img, [role="img"], svg')) {
    if (el.tagName.toLowerCase() === 'img' ? !el.hasAttribute('alt') : !(el.getAttribute('aria-label') || el.getAttribute('aria-hidden') === 'true' || el.closest('[role="img"][aria-label]'))) problems.push('image without alt: ' + describe(el))
  }
  let last = 0
  for (const el of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
    if (!visible(el)) continue
    const level = Number(el.tagName[1])
    if (last === 0 && level !== 1) problems.push('first heading is h' + level)
    if (last !== 0 && level > last + 1) problems.push('heading skips from h' + last + ' to h' + level + ': ' + (el.textContent || '').trim())
    last = level
  }
  const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 } }
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4) }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b) }
  const background = (el) => {
    const layers = []
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break } }
    let out = { r: 255, g: 255, b: 255 }
    for (const c of layers.reverse()) out = { r: c.r * c.a + out.r * (1 - c.a), g: c.g * c.a + out.g * (1 - c.a), b: c.b * c.a + out.b * (1 - c.a) }
    return out
  }
  for (const el of document.querySelectorAll('body *')) {
    if (!visible(el) || el.closest('.uplot')) continue
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())
    if (!ownText) continue
    const s = getComputedStyle(el)
    if (Number(s.opacity) < 1 || (el.disabled)) continue
    const fg = parse(s.color); if (!fg) continue
    const bg = background(el)
    const a = lum(fg), b = lum(bg)
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)
    const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5
    if (ratio < need) problems.push('contrast ' + ratio.toFixed(2) + ' < ' + need + ': ' + describe(el) + ' "' + el.textContent.trim().slice(0, 40) + '"')
  }
  return problems
})()`

export async function checkAccessibility(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(CHECK)
}

/** Whether the page scrolls sideways (it must not at 360 px). */
export async function overflowsHorizontally(page: Page): Promise<boolean> {
  return page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth + 1')
}
