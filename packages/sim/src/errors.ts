/** Every failure of @smgw/sim carries one of these codes (stable, never reused; see README). */
export type SimErrorCode =
  | 'SIM_CONFIG'
  | 'SIM_UNKNOWN_PROFILE'
  | 'SIM_UNKNOWN_QUIRK'
  | 'SIM_KEY'
  | 'SIM_TIME'
  | 'SIM_ENCODE'
  | 'SIM_TRANSPORT'

export class SimError extends Error {
  override name = 'SimError'
  constructor(readonly code: SimErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export function isSimError(err: unknown): err is SimError {
  return err instanceof SimError
}
