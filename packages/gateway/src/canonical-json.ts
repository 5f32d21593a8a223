// Canonical JSON moved to @smgw/admin-protocol (the GWA signs with the same bytes the gateway logs with).
export { formatCanonicalJson } from '@smgw/admin-protocol'
