export { openSqlite, migrateSqlite, migratePostgres } from './migrations.js'
export type { Migration, SqliteMigrationOptions, PostgresMigrationOptions } from './migrations.js'
