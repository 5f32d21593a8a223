import type { Benchmark } from './types.js'

// Placeholder: replaced when the packages it measures land.
export const benchmark: Benchmark = {
  name: 'crypto',
  description: 'crypto benchmark (not yet implemented)',
  inDefaultRun: false,
  run: () => Promise.reject(new Error('bench crypto is not implemented yet')),
}
