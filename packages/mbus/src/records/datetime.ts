// EN 13757-3:2018 Annex A: date and time types G (date), F (date+time), I (date+time+s), J (time).

const p2 = (n: number): string => (n < 10 ? '0' : '') + String(n)

function dateText(year: number, month: number, day: number): string | null {
  if (month < 1 || month > 12 || day < 1 || day > 31) return null
  return `${String(2000 + year)}-${p2(month)}-${p2(day)}`
}

/** Type G (16 bit): day 0–4, year low 5–7, month 8–11, year high 12–15. */
export function formatTypeG(v: number): string | null {
  const day = v & 0x1f
  const month = (v >> 8) & 0x0f
  const year = ((v >> 5) & 0x07) | ((v >> 9) & 0x78)
  return dateText(year, month, day)
}

/** Type F (32 bit): minute 0–5, IV 7, hour 8–12, SU 15, then type G in bits 16–31. */
export function formatTypeF(v: number): string | null {
  if ((v & 0x80) !== 0) return null
  const minute = v & 0x3f
  const hour = (v >> 8) & 0x1f
  const date = formatTypeG(Math.floor(v / 0x10000) & 0xffff)
  if (date === null || minute > 59 || hour > 23) return null
  return `${date}T${p2(hour)}:${p2(minute)}`
}

/** Type I (48 bit): second 0–5, then type F in bits 8–47. */
export function formatTypeI(v: number): string | null {
  const second = v & 0x3f
  const f = formatTypeF(Math.floor(v / 0x100))
  if (f === null || second > 59) return null
  return `${f}:${p2(second)}`
}

/** Type J (24 bit): second 0–5, minute 8–13, hour 16–20. */
export function formatTypeJ(v: number): string | null {
  const second = v & 0x3f
  const minute = (v >> 8) & 0x3f
  const hour = (v >> 16) & 0x1f
  if (second > 59 || minute > 59 || hour > 23) return null
  return `${p2(hour)}:${p2(minute)}:${p2(second)}`
}
