export { MbusError, isMbusError } from './errors.js'
export type { MbusErrorCode } from './errors.js'

export { aesCmac } from './lib/cmac.js'

export { crc16En13757 } from './link/crc.js'
export { decodeManufacturer, encodeManufacturer } from './link/manufacturer.js'
export { DEVICE_TYPES, decodeDeviceType } from './link/device-type.js'
export type { DeviceType } from './link/device-type.js'
export type { MeterAddress, MeterAddressInput } from './link/address.js'
export { decodeWirelessLink, encodeWirelessLink } from './link/wireless.js'
export type { FrameFormat, WirelessLink, WirelessLinkInput, WirelessLinkOptions } from './link/wireless.js'

export { decodeWiredFrame, encodeWiredFrame } from './wired/frame.js'
export type { WiredFrame } from './wired/frame.js'

export { decodeEll, encodeEll } from './ell/ell.js'
export type { DecodedEll, EllInput, ExtendedLinkLayer } from './ell/ell.js'

export { decodeAfl, encodeAfl } from './afl/afl.js'
export type { AflInput, AuthenticationLayer, DecodedAfl } from './afl/afl.js'

export { decodeTplHeader, encodeTplHeader } from './tpl/header.js'
export type { DecodedTplHeader, TplHeaderInput, TplHeaderKind, TransportHeader } from './tpl/header.js'
export { deriveKdfA } from './tpl/kdf.js'
export type { SessionKeys } from './tpl/kdf.js'
export { createMode5Iv, decryptTpl } from './tpl/security.js'
export type { SecurityContext } from './tpl/security.js'

export { decodeDataRecords } from './records/decode.js'
export { encodeDataRecords } from './records/encode.js'
export { COMBINABLE_VIFES, FB_VIFS, FD_VIFS, PRIMARY_VIFS } from './records/vif-table.js'
export type { Unit, VifEntry, VifKind } from './records/vif-table.js'
export type { DataCoding, DataRecord, DataRecordInput, RawValue, RecordFunction, RecordValue } from './records/types.js'

export { decodeWirelessTelegram, encodeWirelessTelegram } from './telegram/wireless.js'
export type { DecodeWirelessOptions, SecurityInput, WirelessTelegram, WirelessTelegramInput } from './telegram/wireless.js'
export { decodeWiredTelegram, encodeWiredTelegram } from './telegram/wired.js'
export type { DecodeWiredOptions, WiredTelegram, WiredTelegramInput } from './telegram/wired.js'
export type { KeyLookup, MeterKey } from './telegram/keys.js'
export { toKeyOps } from './lib/aes.js'
