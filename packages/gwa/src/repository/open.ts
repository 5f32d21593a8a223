import type { GwaStorageConfig } from '../config.js'
import { openPostgresRepository } from './postgres.js'
import { openSqliteRepository } from './sqlite.js'
import type { GwaRepository } from './types.js'

/** Opens the inventory the configuration names (migrating its schema). */
export async function openRepository(storage: GwaStorageConfig): Promise<GwaRepository> {
  return 'sqlite' in storage ? openSqliteRepository(storage.sqlite) : openPostgresRepository({ connectionString: storage.postgres })
}
