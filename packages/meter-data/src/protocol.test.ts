import { describe, expect, it } from 'vitest'
import { MeterDataError } from './errors.js'
import { decodeDeliveryReceipt, decodeDeliveryRejection, isRetryableStatus } from './protocol.js'

describe('WAN delivery protocol', () => {
  it('reads receipts and rejections', () => {
    expect(decodeDeliveryReceipt('{"status":"duplicate","messageId":"gw:1"}')).toEqual({ status: 'duplicate', messageId: 'gw:1' })
    expect(decodeDeliveryRejection('{"code":"REPLAYED","message":"seen with other content"}').code).toBe('REPLAYED')
  })
  it('refuses anything else as RECEIPT_INVALID', () => {
    for (const body of ['', 'ok', '{"status":"ok","messageId":"x"}', '{"status":"stored"}', '{"status":"stored","messageId":"x","more":1}']) {
      expect(() => decodeDeliveryReceipt(body)).toThrow(MeterDataError)
    }
    expect(() => decodeDeliveryRejection('{"code":"NOPE","message":""}')).toThrow(/code/)
  })
  it('retries exactly on 408, 429 and 5xx', () => {
    expect([200, 201, 400, 403, 404, 408, 409, 422, 429, 500, 503].filter(isRetryableStatus)).toEqual([408, 429, 500, 503])
  })
})
