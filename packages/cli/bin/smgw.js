#!/usr/bin/env node
// The packages ship TypeScript sources (no build step, docs/architecture.md); tsx compiles
// them on load. The repository's tsconfig is named explicitly so compile settings (legacy
// decorators for @peculiar/asn1-schema) hold from any working directory.
import { fileURLToPath } from 'node:url'
import { register } from 'tsx/esm/api'

register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.json', import.meta.url)) })
const { main } = await import('../src/main.ts')
process.exitCode = await main(process.argv.slice(2))
