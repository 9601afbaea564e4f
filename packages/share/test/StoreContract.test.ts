import { NodeContext } from "@effect/platform-node"
import * as PostgreSQL from "@plue/testing/PostgreSQL"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Redacted, Scope } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ShareStore from "../src/ShareStore.js"
import * as ShareStorePg from "../src/ShareStorePg.js"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"

/** One store contract, run against every store. */
const contract = (name: string, makeStore: Effect.Effect<ShareStore.Service, unknown, import("effect/Scope").Scope>) =>
  describe(`the store contract: ${name}`, () => {
    let counter = 0
    const record = (over: Partial<ShareStore.ShareRecord> = {}): ShareStore.ShareRecord => ({
      id: `share_${name.replace(/\W/g, "")}_${Date.now()}_${++counter}`.padEnd(24, "x"),
      sessionID: "ses_contract",
      secretHash: "ab".repeat(32),
      createdAt: 1_000,
      expiresAt: null,
      ...over
    })
    const withStore = <A>(f: (store: ShareStore.Service) => Effect.Effect<A, unknown>) => Effect.scoped(Effect.flatMap(makeStore, f))

    it.live("create, find, items, remove", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const share = record({ expiresAt: 99_000 })
          assert.isTrue(Option.isNone(yield* store.find(share.id)))
          assert.isTrue(Option.isNone(yield* store.items(share.id)))
          yield* store.create(share)
          assert.deepStrictEqual(Option.getOrThrow(yield* store.find(share.id)), share)
          assert.deepStrictEqual(Option.getOrThrow(yield* store.items(share.id)), [])
          assert.isTrue(yield* store.remove(share.id))
          assert.isFalse(yield* store.remove(share.id))
          assert.isTrue(Option.isNone(yield* store.find(share.id)))
          assert.isFalse(yield* store.sync(share.id, [{ type: "session", data: { id: "ses_x" } }]), "no sync to a removed share")
          yield* store.check
        })
      ), 60_000)

    it.live(
      "sync keeps the latest of each key; the same sync twice changes nothing; a late older version never wins",
      () =>
        withStore((store) =>
          Effect.gen(function*() {
            const share = record()
            yield* store.create(share)
            const session = (updated: number, title: string) => ({ type: "session", data: { id: "ses_x", title, time: { created: 1, updated } } })
            const part = (text: string) => ({ type: "part", data: { id: "prt_1", messageID: "msg_1", type: "text", text, time: { start: 5 } } })
            const message = { type: "message", data: { id: "msg_1", role: "user", time: { created: 4 } } }
            const sync = [session(10, "first"), message, part("a"), { type: "model", data: [{ id: "m" }] }]
            assert.isTrue(yield* store.sync(share.id, sync))
            assert.isTrue(yield* store.sync(share.id, sync), "idempotent")
            const once = Option.getOrThrow(yield* store.items(share.id))
            assert.strictEqual(once.length, 4)
            assert.deepStrictEqual(once.find((i) => i.type === "model")?.data, [{ id: "m" }], "arrays stay arrays")

            yield* store.sync(share.id, [session(20, "newer"), part("ab")])
            yield* store.sync(share.id, [session(15, "late and older")])
            const items = Option.getOrThrow(yield* store.items(share.id))
            assert.strictEqual((items.find((i) => i.type === "session")?.data as { title: string }).title, "newer")
            assert.strictEqual((items.find((i) => i.type === "part")?.data as { text: string }).text, "ab", "no clock change: the later write wins")
            // Within one sync too, the newest version of a key wins whatever its place.
            yield* store.sync(share.id, [session(40, "newest"), session(30, "older in the same sync")])
            const after = Option.getOrThrow(yield* store.items(share.id))
            assert.strictEqual((after.find((i) => i.type === "session")?.data as { title: string }).title, "newest")
            assert.strictEqual(after.length, 4)
          })
        ),
      60_000
    )

    it.live("concurrent syncs of one share all land", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const share = record()
          yield* store.create(share)
          yield* Effect.forEach(
            Array.from({ length: 40 }, (_, i) => i),
            (i) => store.sync(share.id, [{ type: "part", data: { id: `prt_${i}`, text: `${i}` } }]),
            { concurrency: 8 }
          )
          assert.strictEqual(Option.getOrThrow(yield* store.items(share.id)).length, 40)
        })
      ), 60_000)

    it.live("sweep removes what expired, and only that", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const expired = record({ expiresAt: 5_000 })
          const alive = record({ expiresAt: 50_000 })
          const forever = record({ expiresAt: null })
          yield* Effect.forEach([expired, alive, forever], store.create, { discard: true })
          yield* store.sync(expired.id, [{ type: "session", data: { id: "ses_x" } }])
          const swept = yield* store.sweep(10_000)
          assert.isTrue(Option.isSome(swept))
          assert.isAtLeast(Option.getOrThrow(swept), 1)
          assert.isTrue(Option.isNone(yield* store.find(expired.id)))
          assert.isTrue(Option.isSome(yield* store.find(alive.id)))
          assert.isTrue(Option.isSome(yield* store.find(forever.id)))
        })
      ), 60_000)
  })

contract("memory", Effect.map(Layer.build(ShareStore.layerMemory), Context.get(ShareStore.ShareStore)))

contract(
  "files",
  Effect.map(
    Layer.build(ShareStore.layerFile(mkdtempSync(join(tmpdir(), "plue-store-"))).pipe(Layer.provide(NodeContext.layer))),
    Context.get(ShareStore.ShareStore)
  )
)

/** CI installs PostgreSQL (scripts/setup-postgres.sh): there, a missing one is a failure. */
const havePostgres = PostgreSQL.available()
describe("PostgreSQL here", () => {
  it.live("CI has PostgreSQL", () => Effect.sync(() => assert.isTrue(havePostgres || process.env.CI !== "true", "run scripts/setup-postgres.sh")))
})

/** One PostgreSQL for the file, in a scope closed after it (also when a test fails). */
const scope = Effect.runSync(Scope.make())
let database: PostgreSQL.PostgreSQL | undefined
beforeAll(async () => {
  if (havePostgres) database = await Effect.runPromise(Scope.extend(PostgreSQL.make, scope))
}, 120_000)
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)), 60_000)

if (havePostgres) {
  contract(
    "PostgreSQL",
    Effect.suspend(() =>
      Effect.map(
        Layer.build(ShareStorePg.layer({ url: database!.url }).pipe(Layer.provide(NodeContext.layer))),
        Context.get(ShareStore.ShareStore)
      )
    )
  )

  describe("PostgreSQL only", () => {
    const pgLayer = (url: string) =>
      Layer.merge(ShareStorePg.layer({ url }), PgClient.layer({ url: Redacted.make(url) })).pipe(Layer.provide(NodeContext.layer))

    it.live("replicas starting together on a fresh database apply the migrations once", () =>
      Effect.gen(function*() {
        const admin = yield* Layer.build(PgClient.layer({ url: Redacted.make(database!.url) }))
        const sql = Context.get(admin, SqlClient.SqlClient)
        yield* sql`CREATE DATABASE fresh_replicas`
        const url = database!.url.replace(/\/postgres$/, "/fresh_replicas")
        const [a, b] = yield* Effect.all([Layer.build(pgLayer(url)), Layer.build(pgLayer(url))], { concurrency: 2 })
        const rows = yield* Context.get(a, SqlClient.SqlClient)<{ n: string }>`SELECT count(*) AS n FROM plue_share_migrations`
        assert.strictEqual(Number(rows[0]!.n), 1)
        yield* Context.get(b, ShareStore.ShareStore).check
      }).pipe(Effect.scoped), 60_000)

    it.live("expired shares are swept by one replica at a time (advisory lock), never twice", () =>
      Effect.gen(function*() {
        const a = yield* Layer.build(pgLayer(database!.url))
        const b = yield* Layer.build(pgLayer(database!.url))
        const storeA = Context.get(a, ShareStore.ShareStore)
        const storeB = Context.get(b, ShareStore.ShareStore)
        const sqlA = Context.get(a, SqlClient.SqlClient)
        // Clear what earlier tests left, then 60 expired shares.
        yield* storeA.sweep(Number.MAX_SAFE_INTEGER)
        const ids = Array.from({ length: 60 }, (_, i) => `sweep_${Date.now()}_${i}`.padEnd(24, "x"))
        yield* Effect.forEach(ids, (id) => storeA.create({ id, sessionID: "ses_sweep", secretHash: "00", createdAt: 1, expiresAt: 2 }), { discard: true })
        // While another session (psql, as a sweeping replica would) holds the sweep lock, no sweep.
        const holder = yield* Effect.acquireRelease(
          Effect.sync(() =>
            spawn("psql", [database!.url, "-c", `BEGIN; SELECT pg_advisory_xact_lock(${ShareStorePg.sweepLockKey}); SELECT pg_sleep(60); COMMIT;`], {
              stdio: "ignore"
            })
          ),
          (child) => Effect.sync(() => child.kill("SIGKILL"))
        )
        const held = sqlA<{ n: string }>`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted`
        for (let i = 0; i < 200 && Number((yield* held)[0]!.n) === 0; i++) yield* Effect.sleep("50 millis")
        assert.strictEqual(Number((yield* held)[0]!.n), 1)
        assert.isTrue(Option.isNone(yield* storeB.sweep(10)), "the lock is held elsewhere: no sweep")
        assert.isTrue(Option.isNone(yield* storeA.sweep(10)))
        // The holder goes (a replica that died: its session ends and PostgreSQL frees the lock).
        yield* sqlA`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted`
        holder.kill("SIGKILL")
        for (let i = 0; i < 200 && Number((yield* held)[0]!.n) > 0; i++) yield* Effect.sleep("50 millis")
        // Concurrent sweeps from both replicas remove each share once.
        const results = yield* Effect.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? storeA : storeB).sweep(10)),
          { concurrency: 10 }
        )
        const removed = results.reduce((sum, r) => sum + Option.getOrElse(r, () => 0), 0)
        assert.strictEqual(removed, 60)
        for (const id of ids) assert.isTrue(Option.isNone(yield* storeB.find(id)))
      }).pipe(Effect.scoped), 60_000)
  })
}
