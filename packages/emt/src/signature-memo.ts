import type { SignatureMemo } from '@smgw/pki'
import type { EmtRepository, RememberedSignature } from './repository/types.js'

/** How long new entries wait to be written together (one transaction for a burst of first contacts). */
export const SIGNATURE_MEMO_FLUSH_MS = 1000

/** The path validator's signature memo kept in the receiver's store. */
export interface StoredSignatureMemo extends SignatureMemo {
  /** Entries loaded at start. */
  readonly loaded: number
  /** Adds the store's entries written since the start by others (`smgw emt gateway add --certificate`, other workers); the count known now. */
  reload(at: Date): Promise<number>
  /** Writes the entries not yet written, then stops writing (before the repository closes). */
  close(): Promise<void>
}

/**
 * Loads the signatures remembered in the store (certificates still valid at `at`) and records
 * new ones there in batches: a restarted receiver, or a worker started later, does not verify
 * the certificates of every gateway it knows again (a first contact's two certificate
 * signatures, ≈ 0.3 ms each on brainpoolP256r1). Each process keeps its own set; entries of
 * other processes arrive with its next start or `reload` (SIGHUP). A write that fails is reported and dropped: an
 * entry missing costs one verification, nothing else.
 */
export async function loadSignatureMemo(repository: EmtRepository, at: Date, onWriteError: (err: unknown) => void): Promise<StoredSignatureMemo> {
  const known = new Set(await repository.rememberedSignatures(at))
  const loaded = known.size
  let pending: RememberedSignature[] = []
  let timer: NodeJS.Timeout | undefined
  let writing: Promise<void> = Promise.resolve()
  let closed = false
  const write = (): Promise<void> => {
    timer = undefined
    const batch = pending
    pending = []
    if (batch.length > 0) writing = writing.then(() => repository.rememberSignatures(batch)).catch(onWriteError)
    return writing
  }
  return {
    loaded,
    has: (key) => known.has(key),
    add: (key, notAfter) => {
      if (known.has(key)) return
      known.add(key)
      if (closed) return
      pending.push({ key, notAfter })
      if (timer === undefined) {
        timer = setTimeout(() => { void write() }, SIGNATURE_MEMO_FLUSH_MS)
        timer.unref()
      }
    },
    reload: async (at) => {
      for (const key of await repository.rememberedSignatures(at)) known.add(key)
      return known.size
    },
    close: async () => {
      closed = true
      clearTimeout(timer)
      await write()
    },
  }
}
