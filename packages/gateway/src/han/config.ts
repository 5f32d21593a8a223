import { z } from 'zod'
import { LOG_ID } from '../log/entries.js'

/**
 * The optional `han` section of the gateway configuration (README "HAN service"): where the
 * consumer and technician API listens (the HAN interface address only, never the WAN's),
 * its TLS identity and the tariffs the supplier offers on the page.
 */
export const HanConfig = z.strictObject({
  /** The address of the HAN interface (default loopback; a real gateway names its HAN port's address). */
  host: z.string().min(1).max(253).default('127.0.0.1'),
  /** TCP port (0: any free port, for tests). */
  port: z.int().min(0).max(65_535).default(8443),
  /**
   * The HAN TLS key (PKCS#8/SEC 1 PEM) and certificate (PEM). Absent: a self-signed P-256
   * certificate is made at first start and kept beside the store (`<store>.han-key.pem`,
   * `<store>.han-cert.pem`, mode 0600) — for the demo; browsers show a warning once.
   */
  tls: z.strictObject({ key: z.string().min(1), certificate: z.string().min(1) }).optional(),
  /** Tariffs the consumer can choose on the page (a choice is a request the administrator applies). */
  tariffs: z.array(z.strictObject({
    id: z.string().regex(LOG_ID),
    name: z.string().min(1).max(100),
    description: z.string().max(2000).default(''),
  })).max(64).default([]),
  /** Largest accepted request body, bytes. */
  maxBodyBytes: z.int().min(1024).max(1_048_576).default(16_384),
})
export type HanConfig = z.infer<typeof HanConfig>
