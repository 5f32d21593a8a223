import type { Benchmark } from './types.js'

// Placeholder: replaced when the packages it measures land.
export const benchmark: Benchmark = {
  name: 'fuzz',
  description: 'fuzz benchmark (not yet implemented)',
  inDefaultRun: false,
  run: () => Promise.reject(new Error('bench fuzz is not implemented yet')),
}
