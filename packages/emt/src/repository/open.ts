import type { StorageConfig } from '../config.js'
import { openPostgresRepository } from './postgres.js'
import { openSqliteRepository } from './sqlite.js'
import type { EmtRepository } from './types.js'

/** Opens the repository the configuration names (migrating its schema). */
export async function openRepository(storage: StorageConfig): Promise<EmtRepository> {
  return 'sqlite' in storage ? openSqliteRepository(storage.sqlite) : openPostgresRepository({ connectionString: storage.postgres })
}
