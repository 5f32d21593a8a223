import type { SmlMessageKind } from '../types.js'

/** SML 1.04 SML_MessageBody ::= CHOICE: the Unsigned32 tag of each body. */
export const BODY_TAGS: Readonly<Record<SmlMessageKind, number>> = {
  openRequest: 0x0000_0100,
  openResponse: 0x0000_0101,
  closeRequest: 0x0000_0200,
  closeResponse: 0x0000_0201,
  getProfilePackRequest: 0x0000_0300,
  getProfilePackResponse: 0x0000_0301,
  getProfileListRequest: 0x0000_0400,
  getProfileListResponse: 0x0000_0401,
  getProcParameterRequest: 0x0000_0500,
  getProcParameterResponse: 0x0000_0501,
  setProcParameterRequest: 0x0000_0600,
  getListRequest: 0x0000_0700,
  getListResponse: 0x0000_0701,
  attentionResponse: 0x0000_ff01,
}

export const KIND_BY_TAG: ReadonlyMap<number, SmlMessageKind> = new Map(
  (Object.entries(BODY_TAGS) as [SmlMessageKind, number][]).map(([k, v]) => [v, k]),
)

/** SML_Time ::= CHOICE tags. */
export const TIME_TAG = { secIndex: 1, timestamp: 2, localTimestamp: 3 } as const

/** SML_ProcParValue ::= CHOICE tags (3 = smlTupelEntry, not supported). */
export const PROC_PAR_TAG = { value: 1, periodEntry: 2, tupelEntry: 3, time: 4, listEntry: 5 } as const

/** TL field type bits (bits 6..4 of the first TL byte). */
export const TL_TYPE = { octets: 0, bool: 4, int: 5, uint: 6, list: 7 } as const

/** Limit on SML_Tree nesting; real parameter trees are a few levels deep. */
export const MAX_TREE_DEPTH = 32
