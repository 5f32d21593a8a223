import { z } from 'zod'
import { LOG_ID } from '../log/entries.js'

/*
 * The optional `cls` section of the gateway configuration (README "CLS channel"): the
 * controllable devices on the HAN (heat pump, wallbox), the active market participants that may
 * reach them, and how long a channel may stay open. TR-03109-1 §3.2.5 (transparent channel for
 * CLS devices): the gateway relays bytes only between a configured device and an EMT paired
 * with it, and it is always the one that connects — to the device on the HAN and to the EMT on
 * the WAN — so neither side can reach the other unasked.
 */

const id = z.string().regex(LOG_ID, 'an identifier: 1–64 characters A–Z a–z 0–9 . _ : -')
const host = z.string().min(1).max(253)
const port = z.int().min(1).max(65_535)

/** Subject attributes the EMT's TLS server certificate must carry exactly (like `wan.recipients[].serverSubject`). */
export const ClsTlsSubject = z.strictObject({
  C: z.string().min(1), O: z.string().min(1), OU: z.string().min(1), L: z.string().min(1), serialNumber: z.string().min(1), CN: z.string().min(1),
}).partial().refine((s) => Object.keys(s).length > 0, 'at least one subject attribute (e.g. CN)')

export const ClsDevice = z.strictObject({
  /** The device's ID as commands and logs name it. */
  id,
  /** The consumer whose consumer log records every channel to this device. */
  consumer: id,
  /** Where the device listens on the HAN. */
  address: z.strictObject({ host, port }),
  /**
   * TLS to the device (a device that speaks TLS on the HAN): the CA file (PEM) its certificate
   * must chain to and the name it must carry (default: `address.host`). Absent: plain TCP on the
   * HAN — the channel's protection on the way out is the WAN TLS to the EMT.
   */
  tls: z.strictObject({ ca: z.string().min(1), serverName: host.optional() }).optional(),
})
export type ClsDevice = z.infer<typeof ClsDevice>

export const ClsEmt = z.strictObject({
  /** The market participant's ID (the `emtId` of a `cls-open` command; the consumer log names it). */
  id,
  /** Its CLS endpoint's TLS certificate must carry these subject attributes. */
  tlsSubject: ClsTlsSubject,
  /** The devices this EMT is paired with: a channel to any other device is refused. */
  allowedDevices: z.array(id).min(1).max(256),
})
export type ClsEmt = z.infer<typeof ClsEmt>

/** The section's shape, before the checks across its lists (ClsConfig); a profile's `cls` part extends it. */
export const ClsSection = z.strictObject({
  devices: z.array(ClsDevice).min(1).max(256),
  emts: z.array(ClsEmt).min(1).max(256),
  /** Longest a channel stays open when the command names no `timeoutS`. */
  defaultTimeoutS: z.int().min(1).max(86_400).default(900),
  /** Longest a channel may stay open at all; a longer `timeoutS` is cut to this. */
  maxTimeoutS: z.int().min(1).max(86_400).default(3600),
  /** A channel without a byte in either direction for this long is closed. */
  idleTimeoutS: z.int().min(1).max(86_400).default(300),
  /** TCP or TLS connection set-up to either side, ms. */
  connectTimeoutMs: z.int().min(100).max(120_000).default(10_000),
})

export const ClsConfig = ClsSection.superRefine((c, ctx) => {
  const devices = new Set<string>()
  c.devices.forEach((d, i) => {
    if (devices.has(d.id)) ctx.addIssue({ code: 'custom', path: ['devices', i, 'id'], message: `device ${d.id} configured twice` })
    devices.add(d.id)
  })
  const emts = new Set<string>()
  c.emts.forEach((e, i) => {
    if (emts.has(e.id)) ctx.addIssue({ code: 'custom', path: ['emts', i, 'id'], message: `EMT ${e.id} configured twice` })
    emts.add(e.id)
    e.allowedDevices.forEach((d, j) => {
      if (!devices.has(d)) ctx.addIssue({ code: 'custom', path: ['emts', i, 'allowedDevices', j], message: `device ${d} is not in cls.devices` })
    })
  })
  if (c.defaultTimeoutS > c.maxTimeoutS) ctx.addIssue({ code: 'custom', path: ['defaultTimeoutS'], message: 'defaultTimeoutS must not exceed maxTimeoutS' })
})
export type ClsConfig = z.infer<typeof ClsConfig>
export type ClsConfigInput = z.input<typeof ClsConfig>
