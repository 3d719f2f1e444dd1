/**
 * An idempotency ledger on SQLite: `runOnce(key, write)` runs `write` and records `key` in one
 * transaction, so a retried or re-delivered job that reaches the same write again finds the key
 * and writes nothing. The writes inside `write` must use the same database handle.
 */
import Database from 'better-sqlite3';

/** Options of {@link createIdempotencyStore}. */
export interface IdempotencyStoreOptions {
  /** An open better-sqlite3 database, or a file path (':memory:' for tests). */
  db: Database.Database | string;
  /** Table holding the keys. Default 'idempotency_keys'. */
  table?: string;
}

/** What `runOnce` returns. */
export interface RunOnceResult<T> {
  /** True when the key had been seen: `write` was not run and `value` is the stored one. */
  duplicate: boolean;
  value: T;
}

export interface IdempotencyStore {
  readonly db: Database.Database;
  runOnce<T>(key: string, write: () => T): RunOnceResult<T>;
  has(key: string): boolean;
  close(): void;
}

/** Opens (creating if needed) the idempotency ledger. */
export function createIdempotencyStore(options: IdempotencyStoreOptions): IdempotencyStore {
  const table = options.table ?? 'idempotency_keys';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(table)) {
    throw new TypeError(`options.table: expected an SQL identifier, got ${JSON.stringify(table)}`);
  }
  const owned = typeof options.db === 'string';
  const db = typeof options.db === 'string' ? new Database(options.db) : options.db;
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, result TEXT, created_at INTEGER NOT NULL)`,
  );
  const select = db.prepare<[string], { result: string | null }>(`SELECT result FROM ${table} WHERE key = ?`);
  const insert = db.prepare(`INSERT INTO ${table} (key, result, created_at) VALUES (?, ?, ?)`);
  return {
    db,
    runOnce<T>(key: string, write: () => T): RunOnceResult<T> {
      if (typeof key !== 'string' || key.length === 0) {
        throw new TypeError(`key: expected a non-empty string, got ${String(key)}`);
      }
      return db.transaction((): RunOnceResult<T> => {
        const row = select.get(key);
        if (row)
          return { duplicate: true, value: (row.result === null ? undefined : JSON.parse(row.result)) as T };
        const value = write();
        if (value instanceof Promise)
          throw new TypeError('write: expected a synchronous function (SQLite transaction)');
        insert.run(key, value === undefined ? null : JSON.stringify(value), Date.now());
        return { duplicate: false, value };
      })();
    },
    has(key) {
      return select.get(key) !== undefined;
    },
    close() {
      if (owned) db.close();
    },
  };
}
