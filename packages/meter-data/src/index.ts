export { MeterDataError, isMeterDataError } from './errors.js'
export type { MeterDataErrorCode } from './errors.js'
export { VALUE_STATUS, describeStatus, statusOf } from './status.js'
export type { ValueStatusFlag } from './status.js'
export {
  METER_DATA_FORMAT, METER_DATA_VERSION, USE_CASES, MAX_MESSAGE_BYTES,
  MeterDataMessage, MeterSeries, MeterValue, MeteringPoint, encodeMeterData, decodeMeterData,
} from './message.js'
export type { UseCase } from './message.js'
export {
  METER_DATA_PATH, METER_DATA_CONTENT_TYPE, IDEMPOTENCY_HEADER, REJECTION_CODES,
  DeliveryReceipt, DeliveryRejection, isRetryableStatus, decodeDeliveryReceipt, decodeDeliveryRejection,
} from './protocol.js'
export type { RejectionCode } from './protocol.js'
