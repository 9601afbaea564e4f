/**
 * The share store on PostgreSQL (`@effect/sql-pg`), for any number of share-server replicas on
 * one database. Nothing is cached in a replica: every request reads the database, so a share
 * revoked through one replica answers 404 through every other at once. Migrations run at start
 * (`@effect/sql`'s migrator, which locks its table, so replicas starting together apply each
 * migration once). Expired shares are swept under a PostgreSQL advisory lock: one replica at a
 * time. A sync is one transaction that locks its share's row: syncs of one share apply one at a
 * time, across replicas, and an acknowledged sync is committed.
 *
 * Needs the optional peer dependencies `@effect/sql` and `@effect/sql-pg`.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as PgMigrator from "@effect/sql-pg/PgMigrator"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { type Item, itemClock, itemKey, supersedes } from "./internal/items.js"
import { type Service, ShareStore, ShareStoreError } from "./ShareStore.js"

/**
 * Options of the PostgreSQL store.
 *
 * @since 0.1.0
 */
export interface Options {
  /** `postgres://user:password@host:port/database` */
  readonly url: string | Redacted.Redacted<string>
  /** How long to wait for a connection before a request fails (and answers 503). Default 2 s. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Most connections this replica opens. Default 10. */
  readonly maxConnections?: number | undefined
}

/**
 * The key of the PostgreSQL advisory lock a sweep holds for its transaction.
 *
 * @since 0.1.0
 */
export const sweepLockKey = 0x706c7565_01

/** The schema, one migration a step. */
const migrations = {
  "0001_shares": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE TABLE plue_shares (
        id text PRIMARY KEY,
        session_id text NOT NULL,
        secret_hash text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint
      )`,
      sql`CREATE INDEX plue_shares_expiry ON plue_shares (expires_at) WHERE expires_at IS NOT NULL`,
      sql`CREATE TABLE plue_share_items (
        share_id text NOT NULL REFERENCES plue_shares (id) ON DELETE CASCADE,
        key text NOT NULL,
        seq bigserial,
        type text NOT NULL,
        data jsonb NOT NULL,
        clock bigint,
        PRIMARY KEY (share_id, key)
      )`
    ], { discard: true }))
}

const fail = (operation: string) => (error: SqlError) =>
  new ShareStoreError({ operation, detail: String((error.cause as { message?: string } | undefined)?.message ?? error.message) })

interface ShareRow {
  readonly id: string
  readonly session_id: string
  readonly secret_hash: string
  readonly created_at: string | number
  readonly expires_at: string | number | null
}

/**
 * Makes the store over the ambient `SqlClient` (a PostgreSQL one) whose schema is migrated.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<Service, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const service: Service = {
    create: (share) =>
      sql`INSERT INTO plue_shares (id, session_id, secret_hash, created_at, expires_at)
          VALUES (${share.id}, ${share.sessionID}, ${share.secretHash}, ${share.createdAt}, ${share.expiresAt})`.pipe(
        Effect.asVoid,
        Effect.mapError(fail("create"))
      ),
    find: (id) =>
      sql<ShareRow>`SELECT id, session_id, secret_hash, created_at, expires_at FROM plue_shares WHERE id = ${id}`.pipe(
        Effect.map((rows) =>
          Option.map(Option.fromNullable(rows[0]), (row) => ({
            id: row.id,
            sessionID: row.session_id,
            secretHash: row.secret_hash,
            createdAt: Number(row.created_at),
            expiresAt: row.expires_at === null ? null : Number(row.expires_at)
          }))
        ),
        Effect.mapError(fail("read"))
      ),
    items: (id) =>
      sql<{ readonly type: string; readonly data: unknown; readonly found: boolean }>`
        SELECT i.type, i.data, true AS found FROM plue_shares s
        LEFT JOIN plue_share_items i ON i.share_id = s.id
        WHERE s.id = ${id} ORDER BY i.seq`.pipe(
        Effect.map((rows) =>
          rows.length === 0
            ? Option.none()
            : Option.some(rows.filter((row) => row.type !== null).map((row): Item => ({ type: row.type, data: row.data })))
        ),
        Effect.mapError(fail("read"))
      ),
    sync: (id, incoming) =>
      Effect.gen(function*() {
        // The newest version of each key in this sync (one row per key per statement).
        const latest = new Map<string, { item: Item; clock: number | null }>()
        for (const item of incoming) {
          const key = itemKey(item)
          const clock = itemClock(item)
          const previous = latest.get(key)
          if (previous === undefined || supersedes(clock, previous.clock)) latest.set(key, { item, clock })
        }
        const locked = yield* sql`SELECT id FROM plue_shares WHERE id = ${id} FOR UPDATE`
        if (locked.length === 0) return false
        const rows = [...latest].map(([key, { clock, item }]) => ({
          share_id: id,
          key,
          type: item.type,
          data: JSON.stringify(item.data ?? null),
          clock
        }))
        for (let i = 0; i < rows.length; i += 1000) {
          yield* sql`INSERT INTO plue_share_items ${sql.insert(rows.slice(i, i + 1000))}
            ON CONFLICT (share_id, key) DO UPDATE SET type = EXCLUDED.type, data = EXCLUDED.data, clock = EXCLUDED.clock
            WHERE EXCLUDED.clock IS NULL OR plue_share_items.clock IS NULL OR EXCLUDED.clock >= plue_share_items.clock`
        }
        return true
      }).pipe(sql.withTransaction, Effect.mapError(fail("sync"))),
    remove: (id) =>
      sql`DELETE FROM plue_shares WHERE id = ${id} RETURNING id`.pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.mapError(fail("remove"))
      ),
    sweep: (now) =>
      Effect.gen(function*() {
        const [lock] = yield* sql<{ readonly locked: boolean }>`SELECT pg_try_advisory_xact_lock(${sweepLockKey}) AS locked`
        if (!lock?.locked) return Option.none<number>()
        const removed = yield* sql`DELETE FROM plue_shares WHERE expires_at IS NOT NULL AND expires_at <= ${now} RETURNING id`
        return Option.some(removed.length)
      }).pipe(sql.withTransaction, Effect.mapError(fail("sweep"))),
    check: Effect.asVoid(Effect.mapError(sql`SELECT 1`, fail("check")))
  }
  return service
})

/**
 * Applies the store's migrations (each once; safe when several replicas start together).
 *
 * @since 0.1.0
 */
export const migrate: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  Migrator.MigrationError | SqlError,
  SqlClient.SqlClient | PgClient.PgClient | FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor
> = PgMigrator.run({ loader: PgMigrator.fromRecord(migrations), table: "plue_share_migrations" }).pipe(
  // Replicas starting together race to create the migrations table (PostgreSQL's CREATE TABLE IF
  // NOT EXISTS is not safe against itself); the loser tries again and finds it, then the
  // migrator's table lock applies each migration once.
  Effect.retry({ schedule: Schedule.exponential(Duration.millis(100)), times: 5 })
)

/**
 * The store on the PostgreSQL database at `options.url`, migrated at start.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<
  ShareStore,
  SqlError | Migrator.MigrationError,
  FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor
> =>
  Layer.effect(ShareStore, Effect.zipRight(migrate, make)).pipe(
    Layer.provide(PgClient.layer({
      url: typeof options.url === "string" ? Redacted.make(options.url) : options.url,
      connectTimeout: options.connectTimeout ?? Duration.seconds(2),
      maxConnections: options.maxConnections ?? 10,
      applicationName: "plue-share"
    }))
  )
