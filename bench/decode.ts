import type { Benchmark } from './types.js'

// Placeholder: replaced when the packages it measures land.
export const benchmark: Benchmark = {
  name: 'decode',
  description: 'decode benchmark (not yet implemented)',
  inDefaultRun: false,
  run: () => Promise.reject(new Error('bench decode is not implemented yet')),
}
