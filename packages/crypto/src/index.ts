export { CURVES, isCurveName } from './curves.js'
export type { CurveName, CurveInfo, HashName } from './curves.js'
export type { KeyInfo, SecurityModule, Signer, KeyAgreer } from './security-module/types.js'
export { createKeyObjectSigner, createKeyObjectAgreer, curveOfKey } from './keys/key-object.js'
