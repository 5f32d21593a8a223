/// <reference lib="dom" />
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import './app.css'
import { createApi, ApiError, type Api, type Meter, type RequestKind, type RightsRequest, type Session, type Tariffs } from './api.js'
import { chartSeries, statusRuns } from './series.js'
import { displayUnit, formatBytes, formatTime, formatValue, purposeLabel, statusWords } from './format.js'
import { LANGUAGES, pickLanguage, translate, type Language, type MessageKey } from './i18n.js'
import { describeLogEntry, LOG_TYPES } from './timeline.js'
import { createLiveConnection, type LiveConnection, type LiveStatus } from './live.js'

/*
 * The page: plain DOM, no framework. Every text goes through the dictionaries, every text
 * from the API is set with textContent (never innerHTML). Sections are hash routes (#now …),
 * so the browser's back button and keyboard focus work as people expect.
 */

type View = 'now' | 'history' | 'log' | 'tariffs' | 'consent' | 'rights' | 'device'
const CONSUMER_VIEWS: readonly View[] = ['now', 'history', 'log', 'tariffs', 'consent', 'rights']
const TECHNICIAN_VIEWS: readonly View[] = ['device']
const LANG_KEY = 'smgw-lang'

let lang: Language = readStoredLanguage() ?? pickLanguage(navigator.languages)
let session: Session | null = null
let loginNotice: MessageKey | null = null
let live: LiveConnection | null = null
let charts: uPlot[] = []
const api: Api = createApi(() => { expire() })
const root = document.getElementById('app') ?? document.body

const t = (key: MessageKey, params?: Readonly<Record<string, string | number>>): string => translate(lang, key, params)

type Child = Node | string | null | undefined | false
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Readonly<Record<string, string | boolean | undefined>> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    el.setAttribute(name, value === true ? '' : value)
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    el.append(child)
  }
  return el
}

function readStoredLanguage(): Language | null {
  try {
    const stored = localStorage.getItem(LANG_KEY)
    return stored === 'de' || stored === 'en' ? stored : null
  } catch { return null }
}

function languageSelect(): HTMLElement {
  const select = h('select', { id: 'lang', name: 'lang' }, ...LANGUAGES.map((l) => h('option', { value: l, selected: l === lang }, l === 'de' ? 'Deutsch' : 'English')))
  select.addEventListener('change', () => {
    lang = select.value === 'de' ? 'de' : 'en'
    try { localStorage.setItem(LANG_KEY, lang) } catch { /* private mode: the choice lasts this page */ }
    render()
    document.getElementById('lang')?.focus()
  })
  return h('div', { class: 'lang' }, h('label', { for: 'lang' }, t('lang.label')), select)
}

function errorText(err: unknown): string {
  return t('common.error', { message: err instanceof Error ? err.message : String(err) })
}

function alertBox(): HTMLElement {
  return h('p', { class: 'alert', role: 'alert', id: 'alert' })
}

function showAlert(container: HTMLElement, text: string): void {
  const box = container.querySelector<HTMLElement>('.alert')
  if (box) box.textContent = text
}

function expire(): void {
  if (session === null) return
  session = null
  loginNotice = 'login.expired'
  stopLive()
  render()
}

function currentView(): View {
  const wanted = location.hash.replace(/^#/, '') as View
  const views = session?.user.role === 'technician' ? TECHNICIAN_VIEWS : CONSUMER_VIEWS
  return views.includes(wanted) ? wanted : (views[0] ?? 'now')
}

function render(): void {
  document.documentElement.lang = lang
  document.title = t('app.title')
  for (const chart of charts) chart.destroy()
  charts = []
  root.replaceChildren()
  if (session === null) { renderLogin(); return }
  const user = session.user
  const views = user.role === 'technician' ? TECHNICIAN_VIEWS : CONSUMER_VIEWS
  const view = currentView()
  const logout = h('button', { type: 'button', class: 'secondary' }, t('header.logout'))
  logout.addEventListener('click', () => {
    void api.logout().catch(() => undefined).finally(() => { session = null; stopLive(); render() })
  })
  const nav = h('nav', { 'aria-label': t('nav.label') }, h('ul', {}, ...views.map((v) =>
    h('li', {}, h('a', { href: `#${v}`, 'aria-current': v === view ? 'page' : undefined }, t(`nav.${v}`))))))
  const main = h('main', { id: 'main', tabindex: '-1' })
  root.append(
    h('a', { href: '#main', class: 'skip' }, t('app.skip')),
    h('header', {},
      h('p', { class: 'brand' }, t('app.title')),
      h('p', { class: 'who' }, user.role === 'technician' ? t('header.technician') : t('header.consumer', { consumer: user.consumer ?? user.username })),
      languageSelect(), logout),
    nav, main)
  if (view !== 'now') stopLive()
  switch (view) {
    case 'now': void renderNow(main); break
    case 'history': void renderHistory(main); break
    case 'log': void renderLog(main); break
    case 'tariffs': void renderTariffs(main); break
    case 'consent': void renderConsent(main); break
    case 'rights': void renderRights(main); break
    case 'device': void renderDevice(main); break
  }
}

function renderLogin(): void {
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true })
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true })
  const form = h('form', { class: 'login', novalidate: false },
    h('h1', {}, t('login.heading')),
    h('p', {}, t('login.intro')),
    h('p', { class: 'alert', role: 'alert', id: 'alert' }, loginNotice === null ? '' : t(loginNotice)),
    h('div', { class: 'field' }, h('label', { for: 'username' }, t('login.username')), user),
    h('div', { class: 'field' }, h('label', { for: 'password' }, t('login.password')), pass),
    h('button', { type: 'submit' }, t('login.submit')))
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    api.login(user.value, pass.value).then((s) => {
      session = s
      loginNotice = null
      location.hash = s.user.role === 'technician' ? '#device' : '#now'
      render()
    }, (err: unknown) => {
      pass.value = ''
      if (err instanceof ApiError && err.code === 'BAD_CREDENTIALS') showAlert(form, t('login.bad'))
      else if (err instanceof ApiError && err.code === 'LOCKED') showAlert(form, t('login.locked', { until: formatTime(typeof err.body['until'] === 'string' ? err.body['until'] : '', lang) }))
      else if (err instanceof ApiError && err.code === 'RATE_LIMITED') showAlert(form, t('login.rateLimited'))
      else showAlert(form, t('login.failed', { message: err instanceof Error ? err.message : String(err) }))
    })
  })
  root.append(h('header', {}, h('p', { class: 'brand' }, t('app.title')), languageSelect()), h('main', { id: 'main' }, form))
}

// ---- Now -------------------------------------------------------------------------------

const valueCells = new Map<string, HTMLElement>()
/** Each meter's list of values: a quantity first seen live gets a row of its own. */
const meterLists = new Map<string, HTMLElement>()

async function renderNow(main: HTMLElement): Promise<void> {
  const status = h('p', { class: 'live', role: 'status', 'aria-live': 'polite', id: 'live-status', 'data-state': 'connecting' }, t('now.connecting'))
  main.append(h('h1', {}, t('now.heading')), h('p', {}, t('now.intro')), status, alertBox())
  valueCells.clear()
  meterLists.clear()
  try {
    const { meters } = await api.meters()
    if (meters.length === 0) { main.append(h('p', {}, t('now.noMeters'))); return }
    for (const meter of meters) {
      const list = h('dl', {})
      meterLists.set(meter.id, list)
      for (const q of meter.quantities) {
        const cell = h('dd', { 'data-meter': meter.id, 'data-quantity': q.quantity }, h('span', { class: 'value' }, t('now.noValue')))
        valueCells.set(`${meter.id}\u0000${q.quantity}`, cell)
        list.append(h('dt', {}, q.label), cell)
      }
      main.append(h('section', { class: 'card', 'aria-labelledby': `m-${meter.id}` },
        h('h2', { id: `m-${meter.id}` }, meter.name ?? t('now.meter', { id: meter.id })), list))
      const { values } = await api.current(meter.id)
      for (const v of values) showValue(meter.id, v)
    }
    startLive(status)
  } catch (err) { showAlert(main, errorText(err)) }
}

function showValue(meterId: string, v: { quantity: string; value: string; scaler: number; unit: string | null; time: string }): void {
  let cell = valueCells.get(`${meterId}\u0000${v.quantity}`)
  if (!cell) {
    const list = meterLists.get(meterId)
    if (!list) return
    cell = h('dd', { 'data-meter': meterId, 'data-quantity': v.quantity })
    valueCells.set(`${meterId}\u0000${v.quantity}`, cell)
    list.append(h('dt', {}, v.quantity), cell)
  }
  const shown = formatValue(v.value, v.scaler, v.unit ?? '', lang)
  cell.replaceChildren(h('span', { class: 'value' }, `${shown.text} ${shown.unit}`), ' ', h('span', { class: 'time' }, t('now.at', { time: formatTime(v.time, lang) })))
}

/** The live stream with its own reconnection (live.ts); `status` shows its state in words and in `data-state`. */
function startLive(status: HTMLElement): void {
  stopLive()
  const words: Readonly<Record<LiveStatus['state'], MessageKey>> = { connecting: 'now.connecting', live: 'now.live', reconnecting: 'now.offline' }
  const connection = createLiveConnection({
    open: () => new EventSource('/api/v1/live'),
    // A 401 ends the session (api.ts calls expire(), which stops this); a network failure or a 5xx rejects: try again later.
    check: () => api.session().then(() => session !== null && currentView() === 'now' && live === connection, (err: unknown) => {
      if (err instanceof ApiError && err.status === 401) return false
      throw err
    }),
    setTimer: (ms, fn) => { const timer = setTimeout(fn, ms); return () => { clearTimeout(timer) } },
    random: Math.random,
    onStatus: (s) => {
      if (status.dataset['state'] !== s.state) status.textContent = t(words[s.state])
      status.dataset['state'] = s.state
    },
    onReading: (data) => {
      try {
        const r = JSON.parse(data) as { meterId: string; quantity: string; value: string; scaler: number; unit: string | null; time: string }
        showValue(r.meterId, r)
      } catch { /* a malformed event is skipped; the next one updates the value */ }
    },
    // Readings committed while the stream was down never come through it: ask for the values once.
    onResync: () => {
      for (const meterId of meterLists.keys()) {
        api.current(meterId).then(({ values }) => { if (live === connection) for (const v of values) showValue(meterId, v) }, () => undefined)
      }
    },
  })
  live = connection
  connection.start()
}

function stopLive(): void {
  live?.stop()
  live = null
}

// ---- History ---------------------------------------------------------------------------

const RANGE_DAYS: Readonly<Record<string, number>> = { '15min': 2, day: 62, month: 730 }

function isoDate(d: Date): string { return d.toISOString().slice(0, 10) }

async function renderHistory(main: HTMLElement): Promise<void> {
  main.append(h('h1', {}, t('history.heading')), alertBox())
  let meters: Meter[]
  try { meters = (await api.meters()).meters } catch (err) { showAlert(main, errorText(err)); return }
  if (meters.length === 0) { main.append(h('p', {}, t('now.noMeters'))); return }
  const today = new Date()
  const earliest = new Date(today); earliest.setMonth(earliest.getMonth() - 24)
  const meterSel = h('select', { id: 'h-meter' }, ...meters.map((m) => h('option', { value: m.id }, m.name ?? m.id)))
  const quantitySel = h('select', { id: 'h-quantity' })
  const resolutionSel = h('select', { id: 'h-resolution' }, ...(['15min', 'day', 'month'] as const).map((r) => h('option', { value: r, selected: r === 'day' }, t(`history.res.${r}`))))
  const from = h('input', { id: 'h-from', type: 'date', min: isoDate(earliest), max: isoDate(today) })
  const to = h('input', { id: 'h-to', type: 'date', min: isoDate(earliest), max: isoDate(today), value: isoDate(today) })
  const fillQuantities = (): void => {
    const meter = meters.find((m) => m.id === meterSel.value) ?? meters[0]
    quantitySel.replaceChildren(...(meter?.quantities ?? []).map((q) => h('option', { value: q.quantity }, q.label)))
  }
  const setRange = (): void => {
    const start = new Date(today.getTime() - (RANGE_DAYS[resolutionSel.value] ?? 62) * 86_400_000)
    from.value = isoDate(start < earliest ? earliest : start)
  }
  fillQuantities(); setRange()
  meterSel.addEventListener('change', fillQuantities)
  resolutionSel.addEventListener('change', setRange)
  const form = h('form', { class: 'filters' },
    field('h-meter', t('history.meter'), meterSel), field('h-quantity', t('history.quantity'), quantitySel),
    field('h-resolution', t('history.resolution'), resolutionSel), field('h-from', t('history.from'), from), field('h-to', t('history.to'), to),
    h('button', { type: 'submit' }, t('history.show')))
  const out = h('div', { class: 'history', 'aria-live': 'polite' })
  main.append(form, h('p', { class: 'hint' }, t('history.zoom')), out)
  const show = async (): Promise<void> => {
    for (const chart of charts) chart.destroy()
    charts = []
    out.replaceChildren(h('p', {}, t('common.loading')))
    try {
      // Up to the end of the chosen day, never past now (the future has no values, not gaps).
      const toDate = new Date(`${to.value}T00:00:00`); toDate.setDate(toDate.getDate() + 1)
      if (toDate.getTime() > Date.now()) toDate.setTime(Date.now())
      const data = await api.history(meterSel.value, { quantity: quantitySel.value, resolution: resolutionSel.value, from: new Date(`${from.value}T00:00:00`).toISOString(), to: toDate.toISOString() })
      drawHistory(out, data, resolutionSel.value, quantitySel.selectedOptions[0]?.textContent ?? data.quantity)
    } catch (err) {
      out.replaceChildren(h('p', { class: 'alert', role: 'alert' }, err instanceof ApiError && err.code === 'OUT_OF_RANGE' ? t('history.tooFar') : errorText(err)))
    }
  }
  form.addEventListener('submit', (event) => { event.preventDefault(); void show() })
  await show()
}

function field(id: string, label: string, control: HTMLElement): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label), control)
}

function drawHistory(out: HTMLElement, data: { quantity: string; unit: string; scaler: number; points: readonly { time: string; value: string | null; status: number }[] }, resolution: string, label: string): void {
  out.replaceChildren()
  if (data.points.length === 0) { out.append(h('p', {}, t('history.empty'))); return }
  const series = chartSeries(data.points, data.scaler, data.unit)
  const unit = displayUnit(data.unit)
  const yLabel = series.differences ? t('history.perInterval', { unit }) : t('history.values', { unit })
  const figure = h('figure', { class: 'chart' })
  const chartBox = h('div', { role: 'img', 'aria-label': t('history.chart', { quantity: label, unit }) })
  figure.append(chartBox, h('figcaption', {}, `${label} — ${yLabel}`))
  out.append(figure)
  if (series.gaps > 0) out.append(h('p', { class: 'gaps' }, t('history.gaps', { count: series.gaps })))
  const bars = resolution !== '15min'
  const width = Math.max(280, Math.min(out.clientWidth || 600, 960))
  const chart = new uPlot({
    width, height: 280, cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true } },
    series: [{}, {
      label: yLabel, stroke: '#0b5cad', fill: bars ? 'rgba(11,92,173,0.35)' : undefined, width: bars ? 1 : 1.5, spanGaps: false,
      paths: bars ? uPlot.paths.bars?.({ size: [0.7, 40] }) : undefined,
      value: (_u, v) => Number.isFinite(v) ? `${v.toLocaleString(lang === 'de' ? 'de-DE' : 'en-GB')} ${unit}` : t('status.gap'),
    }],
    axes: [{}, { label: yLabel, size: 70 }],
  }, [series.x, series.y], chartBox)
  charts.push(chart)
  const runs = statusRuns(data.points)
  const list = runs.length === 0
    ? h('p', {}, t('history.flaggedNone'))
    : h('ul', { class: 'flagged' }, ...runs.slice(0, 200).map((r) => h('li', {}, r.count === 1
      ? `${formatTime(r.from, lang)}: ${statusWords(r.status, lang).join(', ')}`
      : `${t('history.run', { from: formatTime(r.from, lang), to: formatTime(r.to, lang), count: r.count })}: ${statusWords(r.status, lang).join(', ')}`)))
  out.append(h('h2', {}, t('history.flagged')), list)
}

// ---- Where did my data go --------------------------------------------------------------

async function renderLog(main: HTMLElement): Promise<void> {
  const typeSel = h('select', { id: 'log-type' }, h('option', { value: '' }, t('log.type.all')), ...LOG_TYPES.map((ty) => h('option', { value: ty }, t(`log.t.${ty}`))))
  const search = h('input', { id: 'log-q', type: 'search' })
  const form = h('form', { class: 'filters', role: 'search' }, field('log-type', t('log.type'), typeSel), field('log-q', t('log.search'), search), h('button', { type: 'submit' }, t('log.apply')))
  const list = h('ol', { class: 'timeline' })
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('log.more'))
  main.append(h('h1', {}, t('log.heading')), h('p', {}, t('log.intro')),
    h('p', { class: 'exports' },
      h('a', { href: '/api/v1/log/export.csv', download: 'consumer-log.csv' }, t('log.exportCsv')), ' ',
      h('a', { href: '/api/v1/log/export', download: 'consumer-log.smgw-log' }, t('log.exportSigned'))),
    h('p', { class: 'hint' }, t('log.verify')),
    form, alertBox(), list, more)
  let before: string | undefined
  const load = async (reset: boolean): Promise<void> => {
    if (reset) { list.replaceChildren(); before = undefined }
    const query: Record<string, string> = { limit: '50' }
    if (typeSel.value !== '') query['type'] = typeSel.value
    if (search.value.trim() !== '') query['q'] = search.value.trim()
    if (before !== undefined) query['before'] = before
    try {
      const page = await api.log(query)
      for (const entry of page.entries) {
        const item = describeLogEntry(entry, lang)
        list.append(h('li', { class: `entry ${item.kind}` },
          h('p', { class: 'when' }, h('time', { datetime: entry.time }, item.when)),
          h('h2', {}, item.title),
          h('p', {}, item.detail),
          ...item.badges.map((b) => h('span', { class: 'badge' }, b))))
      }
      if (reset && page.entries.length === 0) list.append(h('li', {}, t('log.empty')))
      before = page.next === undefined ? undefined : String(page.next)
      more.hidden = before === undefined
    } catch (err) { showAlert(main, errorText(err)) }
  }
  form.addEventListener('submit', (event) => { event.preventDefault(); void load(true) })
  more.addEventListener('click', () => { void load(false) })
  await load(true)
}

// ---- Tariffs ---------------------------------------------------------------------------

async function renderTariffs(main: HTMLElement): Promise<void> {
  main.append(h('h1', {}, t('tariffs.heading')), alertBox())
  try {
    const tariffs = await api.tariffs()
    main.append(h('h2', {}, t('tariffs.useCases')), h('ul', { class: 'cards' }, ...tariffs.useCases.map((u) =>
      h('li', { class: 'card' },
        h('h3', {}, purposeLabel(u.profileId)),
        h('p', {}, u.text),
        h('p', {}, `${t('tariffs.recipients')}: ${u.recipients.map((r) => `${r.id} (${r.role})`).join(', ')}`),
        h('p', { class: 'hint' }, t('tariffs.legalBasis', { basis: basisWord(u.legalBasis) }))))))
    // The choice is a request: its state in plain words and the administrator's note, kept current after a new choice.
    const state = h('p', { role: 'status', id: 'tariff-state' })
    const explained = h('p', { class: 'state' })
    const note = h('div')
    const showChoice = (now: Tariffs): void => {
      state.textContent = now.choice ? t('tariffs.chosen', { tariff: tariffName(now, now.choice.tariffId), state: stateWord(now.choice.state) }) : ''
      explained.textContent = now.choice ? explainState(now.choice.state) : ''
      note.replaceChildren(...(now.choice ? [adminNote(now.choice) ?? ''] : []))
    }
    showChoice(tariffs)
    main.append(h('h2', {}, t('tariffs.offered')), state, explained, note)
    if (tariffs.offered.length === 0) { main.append(h('p', {}, t('tariffs.none'))); return }
    main.append(h('ul', { class: 'cards' }, ...tariffs.offered.map((o) => {
      const button = h('button', { type: 'button' }, t('tariffs.choose', { name: o.name }))
      button.addEventListener('click', () => {
        button.disabled = true
        api.chooseTariff(o.id).then(async () => {
          showChoice(await api.tariffs())
        }).catch((err: unknown) => { showAlert(main, errorText(err)) }).finally(() => { button.disabled = false })
      })
      return h('li', { class: 'card' }, h('h3', {}, o.name), h('p', {}, o.description), button)
    })))
  } catch (err) { showAlert(main, errorText(err)) }
}

const BASIS_KEYS: Readonly<Record<string, MessageKey>> = { consent: 'basis.consent', contract: 'basis.contract', 'legal-obligation': 'basis.legal-obligation' }
function basisWord(basis: string): string {
  const key = BASIS_KEYS[basis]
  return key === undefined ? basis : t(key)
}

function tariffName(tariffs: { offered: readonly { id: string; name: string }[] }, id: string): string {
  return tariffs.offered.find((o) => o.id === id)?.name ?? id
}

const STATE_KEYS: Readonly<Record<string, MessageKey>> = {
  received: 'state.received', 'in-progress': 'state.in-progress', done: 'state.done', rejected: 'state.rejected', pending: 'state.pending', applied: 'state.applied',
}
function stateWord(state: string): string {
  const key = STATE_KEYS[state]
  return key === undefined ? state : t(key)
}
const STATE_EXPLANATIONS: Readonly<Record<string, MessageKey>> = {
  received: 'state.explain.received', pending: 'state.explain.pending', 'in-progress': 'state.explain.in-progress', done: 'state.explain.done', rejected: 'state.explain.rejected',
}
/** What a request's state means for the consumer: where it is and who acts next. */
function explainState(state: string): string {
  const key = STATE_EXPLANATIONS[state]
  return key === undefined ? stateWord(state) : t(key)
}

// ---- Consent ---------------------------------------------------------------------------

async function renderConsent(main: HTMLElement): Promise<void> {
  main.append(h('h1', {}, t('consent.heading')), h('p', {}, t('consent.intro')), alertBox())
  const list = h('ul', { class: 'consents' })
  main.append(list)
  const load = async (): Promise<void> => {
    const { consents } = await api.consents()
    list.replaceChildren(...consents.map((c) => {
      const id = `consent-${c.purpose}`
      const switchable = c.withdrawable ?? c.legalBasis === 'consent'
      const box = h('input', { id, type: 'checkbox', role: 'switch', checked: c.granted, disabled: !switchable, 'aria-describedby': `${id}-d` })
      box.addEventListener('change', () => {
        const granting = box.checked
        if (!granting && !confirm(t('consent.confirmWithdraw', { purpose: `${purposeLabel(c.useCase)} (${c.purpose})` }))) { box.checked = true; return }
        box.disabled = true
        api.setConsent(c.purpose, granting).then(load, (err: unknown) => { box.checked = !granting; box.disabled = false; showAlert(main, errorText(err)) })
      })
      const state = switchable ? `${c.granted ? t('consent.granted') : t('consent.withdrawn')}${c.since ? `, ${t('consent.since', { time: formatTime(c.since, lang) })}` : ''}` : `${t('consent.systemRelevant')} — ${basisWord(c.legalBasis)}`
      return h('li', { class: 'card' }, h('div', { class: 'switch' }, box, h('label', { for: id }, `${purposeLabel(c.useCase)} (${c.purpose})`)), h('p', { id: `${id}-d`, class: 'hint' }, state))
    }))
  }
  try { await load() } catch (err) { showAlert(main, errorText(err)) }
}

// ---- Your rights -----------------------------------------------------------------------

async function renderRights(main: HTMLElement): Promise<void> {
  const kinds: readonly RequestKind[] = ['deletion', 'rectification', 'objection']
  const kindSel = h('select', { id: 'r-kind' }, ...kinds.map((k) => h('option', { value: k }, t(`rights.kind.${k}`))))
  const text = h('textarea', { id: 'r-text', rows: '4', required: true, maxlength: '2000' })
  const form = h('form', { class: 'rights' }, field('r-kind', t('rights.kind'), kindSel), field('r-text', t('rights.text'), text), h('button', { type: 'submit' }, t('rights.submit')))
  const list = h('ul', { class: 'requests' })
  const done = h('p', { role: 'status' })
  main.append(h('h1', {}, t('rights.heading')), h('p', {}, t('rights.intro')), alertBox(), form, done, h('h2', {}, t('rights.list')), list)
  const load = async (): Promise<void> => {
    const { requests } = await api.requests()
    list.replaceChildren(...(requests.length === 0 ? [h('li', {}, t('rights.none'))] : requests.map(requestCard)))
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    api.createRequest(kindSel.value as RequestKind, text.value).then(async () => { text.value = ''; done.textContent = t('rights.sent'); await load() },
      (err: unknown) => { showAlert(main, errorText(err)) })
  })
  try { await load() } catch (err) { showAlert(main, errorText(err)) }
}

/** One request: what was asked, its state in plain words and, once answered, the administrator's note. */
function requestCard(r: RightsRequest): HTMLElement {
  return h('li', { class: 'card', 'data-request': String(r.id) },
    h('h3', {}, `${t(`rights.kind.${r.kind}`)} — ${stateWord(r.state)}`),
    h('p', {}, r.text),
    h('p', { class: 'hint' }, formatTime(r.createdAt, lang)),
    h('p', { class: 'state' }, explainState(r.state)),
    adminNote(r))
}

/** The administrator's answer, word for word, with its time; nothing before an answer or for an empty note. */
function adminNote(r: { readonly note?: string | null; readonly answeredAt?: string | null }): HTMLElement | null {
  if (r.note === undefined || r.note === null || r.note === '' || r.answeredAt === undefined || r.answeredAt === null) return null
  return h('p', { class: 'note' }, t('rights.note', { time: formatTime(r.answeredAt, lang), note: r.note }))
}

// ---- Technician ------------------------------------------------------------------------

async function renderDevice(main: HTMLElement): Promise<void> {
  main.append(h('h1', {}, t('device.heading')), h('p', {}, t('device.intro')), alertBox())
  try {
    const device = await api.device()
    const g = device.gateway
    main.append(h('dl', { class: 'device' },
      h('dt', {}, t('device.state')), h('dd', {}, g.state),
      h('dt', {}, t('device.time')), h('dd', {}, formatTime(g.time, lang)),
      h('dt', {}, t('device.store', { version: g.store.schemaVersion, size: formatBytes(g.store.sizeBytes, lang) }).split(':')[0] ?? ''),
      h('dd', {}, t('device.store', { version: g.store.schemaVersion, size: formatBytes(g.store.sizeBytes, lang) }).split(': ').slice(1).join(': '))))
    const yesNo = (v: number | boolean): string => typeof v === 'number' ? String(v) : v ? t('common.yes') : t('common.no')
    main.append(h('h2', {}, t('device.meters')), h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ...[t('device.meter'), t('device.kind'), t('device.state'), t('device.lastReading'), t('device.keyRejected'), t('device.garbage')].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...device.meters.map((m) => h('tr', {},
        h('th', { scope: 'row' }, m.id), h('td', {}, m.kind), h('td', {}, m.state),
        h('td', {}, m.lastReadingAt === null ? t('common.never') : formatTime(m.lastReadingAt, lang)),
        h('td', {}, yesNo(m.keyRejected)), h('td', {}, String(m.garbageBytes))))))))
  } catch (err) { showAlert(main, errorText(err)) }
}

// ---- Start -----------------------------------------------------------------------------

window.addEventListener('hashchange', () => { if (session !== null) { render(); document.getElementById('main')?.focus() } })
api.session().then((s) => { session = s; render() }, () => { session = null; render() })
