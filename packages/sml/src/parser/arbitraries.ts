// fast-check arbitraries for SML messages (test support; not part of the package API).
// Integers are normalised as the decoder returns them: a number when safe, else a bigint.
// OPTIONAL octet strings are never empty (an empty one encodes as 0x01, which reads as absent).
import fc from 'fast-check'
import type {
  SmlInteger,
  SmlListEntry,
  SmlMessageBody,
  SmlMessageInput,
  SmlPeriodEntry,
  SmlProcParValue,
  SmlTime,
  SmlTlHint,
  SmlTree,
  SmlUnsigned,
  SmlValue,
} from '../types.js'

const norm = (v: bigint): SmlInteger => (Number.isSafeInteger(Number(v)) ? Number(v) : v)

const bytes = (max = 20): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max })
const someBytes = (max = 20): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: 1, maxLength: max })
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined })

const u8 = fc.integer({ min: 0, max: 255 })
const i8 = fc.integer({ min: -128, max: 127 })
const u32 = fc.integer({ min: 0, max: 0xffff_ffff })
const i16 = fc.integer({ min: -32768, max: 32767 })

export const arbUnsigned: fc.Arbitrary<SmlUnsigned> = fc.oneof(
  u8.map((value) => ({ type: 'uint8' as const, value })),
  fc.integer({ min: 0, max: 0xffff }).map((value) => ({ type: 'uint16' as const, value })),
  u32.map((value) => ({ type: 'uint32' as const, value })),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => ({ type: 'uint64' as const, value: norm(v) })),
)

export const arbValue: fc.Arbitrary<SmlValue> = fc.oneof(
  fc.boolean().map((value) => ({ type: 'bool' as const, value })),
  bytes(40).map((value) => ({ type: 'bytes' as const, value })),
  i8.map((value) => ({ type: 'int8' as const, value })),
  i16.map((value) => ({ type: 'int16' as const, value })),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((value) => ({ type: 'int32' as const, value })),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((v) => ({ type: 'int64' as const, value: norm(v) })),
  arbUnsigned,
)

export const arbTime: fc.Arbitrary<SmlTime> = fc.oneof(
  u32.map((secIndex) => ({ kind: 'secIndex' as const, secIndex })),
  u32.map((secIndex) => ({ kind: 'secIndex' as const, secIndex, bare: true as const })),
  u32.map((timestamp) => ({ kind: 'timestamp' as const, timestamp })),
  fc.record({ timestamp: u32, localOffset: i16, seasonTimeOffset: i16 }).map((t) => ({ kind: 'localTimestamp' as const, ...t })),
)

/** Builds an object with only the keys whose value is defined (absent OPTIONAL fields are absent keys). */
function defined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out as T
}

export const arbListEntry: fc.Arbitrary<SmlListEntry> = fc
  .record({
    objName: bytes(8),
    status: opt(arbUnsigned),
    valTime: opt(arbTime),
    unit: opt(u8),
    scaler: opt(i8),
    value: arbValue,
    valueSignature: opt(someBytes()),
  })
  .map(defined)

const arbPeriodEntry: fc.Arbitrary<SmlPeriodEntry> = fc
  .record({ objName: bytes(8), unit: u8, scaler: i8, value: arbValue, valueSignature: opt(someBytes()) })
  .map(defined)

const arbProcParValue: fc.Arbitrary<SmlProcParValue> = fc.oneof(
  arbValue.map((value) => ({ kind: 'value' as const, value })),
  arbPeriodEntry.map((periodEntry) => ({ kind: 'periodEntry' as const, periodEntry })),
  arbTime.map((time) => ({ kind: 'time' as const, time })),
  arbListEntry.map((listEntry) => ({ kind: 'listEntry' as const, listEntry })),
)

const { tree: arbTree } = fc.letrec<{ tree: SmlTree }>((tie) => ({
  tree: fc
    .record({
      parameterName: bytes(8),
      parameterValue: opt(arbProcParValue),
      children: opt(fc.array(tie('tree'), { maxLength: 3, depthIdentifier: 'tree' })),
    }, { noNullPrototype: true })
    .map(defined),
}))
export { arbTree }

const path = fc.array(bytes(8), { maxLength: 4 })

export const arbBody: fc.Arbitrary<SmlMessageBody> = fc.oneof(
  fc.record({
    kind: fc.constant('openRequest' as const), codepage: opt(someBytes()), clientId: bytes(), reqFileId: bytes(),
    serverId: opt(someBytes()), username: opt(someBytes()), password: opt(someBytes()), smlVersion: opt(u8),
  }).map(defined),
  fc.record({
    kind: fc.constant('openResponse' as const), codepage: opt(someBytes()), clientId: opt(someBytes()), reqFileId: bytes(),
    serverId: bytes(), refTime: opt(arbTime), smlVersion: opt(u8),
  }).map(defined),
  fc.record({ kind: fc.constantFrom('closeRequest' as const, 'closeResponse' as const), globalSignature: opt(someBytes()) }).map(defined),
  fc.record({
    kind: fc.constant('getListRequest' as const), clientId: bytes(), serverId: opt(someBytes()), username: opt(someBytes()),
    password: opt(someBytes()), listName: opt(someBytes()),
  }).map(defined),
  fc.record({
    kind: fc.constant('getListResponse' as const), clientId: opt(someBytes()), serverId: bytes(), listName: opt(someBytes()),
    actSensorTime: opt(arbTime), valList: fc.array(arbListEntry, { maxLength: 20 }), listSignature: opt(someBytes()),
    actGatewayTime: opt(arbTime),
  }).map(defined),
  fc.record({
    kind: fc.constant('getProcParameterRequest' as const), serverId: opt(someBytes()), username: opt(someBytes()),
    password: opt(someBytes()), parameterTreePath: path, attribute: opt(someBytes()),
  }).map(defined),
  fc.record({ kind: fc.constant('getProcParameterResponse' as const), serverId: bytes(), parameterTreePath: path, parameterTree: arbTree }),
  fc.record({
    kind: fc.constant('setProcParameterRequest' as const), serverId: opt(someBytes()), username: opt(someBytes()),
    password: opt(someBytes()), parameterTreePath: path, parameterTree: arbTree,
  }).map(defined),
  fc.record({
    kind: fc.constantFrom('getProfilePackRequest' as const, 'getProfileListRequest' as const), serverId: opt(someBytes()),
    username: opt(someBytes()), password: opt(someBytes()), withRawdata: opt(fc.boolean()), beginTime: opt(arbTime),
    endTime: opt(arbTime), parameterTreePath: path, objectList: opt(fc.array(bytes(8), { maxLength: 4 })), dasDetails: opt(arbTree),
  }).map(defined),
  fc.record({
    kind: fc.constant('getProfilePackResponse' as const), serverId: bytes(), actTime: arbTime, regPeriod: u32, parameterTreePath: path,
    headerList: fc.array(fc.record({ objName: bytes(8), unit: u8, scaler: i8 }), { maxLength: 4 }),
    periodList: fc.array(fc.record({
      valTime: arbTime, status: arbUnsigned,
      values: fc.array(fc.record({ value: arbValue, valueSignature: opt(someBytes()) }).map(defined), { maxLength: 4 }),
      periodSignature: opt(someBytes()),
    }).map(defined), { maxLength: 3 }),
    rawdata: bytes(), profileSignature: opt(someBytes()),
  }).map(defined),
  fc.record({
    kind: fc.constant('getProfileListResponse' as const), serverId: bytes(), actTime: arbTime, regPeriod: u32, parameterTreePath: path,
    valTime: arbTime, status: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(norm), periodList: fc.array(arbPeriodEntry, { maxLength: 4 }),
    rawdata: bytes(), periodSignature: opt(someBytes()),
  }).map(defined),
  fc.record({
    kind: fc.constant('attentionResponse' as const), serverId: bytes(), attentionNo: bytes(8), attentionMsg: opt(someBytes()),
    attentionDetails: opt(arbTree),
  }).map(defined),
)

/** A message without `tl` hints: what the encoder writes canonically. */
export const arbMessage: fc.Arbitrary<SmlMessageInput> = fc.record({
  transactionId: bytes(12),
  groupNo: u8,
  abortOnError: u8,
  body: arbBody,
})

/**
 * Random hints: some apply (the encoder then writes a non-default TL size or integer
 * length), most do not fit the field and are ignored. Used to produce valid files with
 * non-canonical encodings for the encode(decode(bytes)) = bytes property.
 */
export const arbHints: fc.Arbitrary<SmlTlHint[]> = fc.array(
  fc.record({ at: fc.integer({ min: 0, max: 80 }), size: fc.integer({ min: 1, max: 3 }), len: fc.integer({ min: 0, max: 9 }) }),
  { maxLength: 12 },
)
