/**
 * Load: many sessions on the server. A full reconcile (list every session and apply it to the
 * cache) against one raw listing of them, memory per cached session, and RSS drift over many
 * handle open/destroy cycles.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as OpenCodeClient from "@plue/core/OpenCodeClient"
import type * as OpenCodeServer from "@plue/core/OpenCodeServer"
import * as SessionCache from "@plue/core/SessionCache"
import * as SessionEvents from "@plue/core/SessionEvents"
import type * as SessionManager from "@plue/core/SessionManager"
import type * as SessionSync from "@plue/core/SessionSync"
import { type Figure, measure } from "./measure.js"

export interface LoadFigures {
  readonly sessions: number
  readonly createSeconds: number
  readonly reconcile: Figure
  readonly cacheEqualsServer: boolean
  readonly bytesPerCachedSession: number
  readonly handleCycles: number
  readonly rssBeforeMiB: number
  readonly rssAfterMiB: number
  /** RSS after the warm-up and after each further quarter of the cycles. */
  readonly rssSeriesMiB: ReadonlyArray<number>
  readonly heapBeforeMiB: number
  readonly heapAfterMiB: number
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10

export const loadBench = (
  server: OpenCodeServer.Info,
  client: OpenCodeClient.Service,
  cache: SessionCache.Service,
  sync: SessionSync.Service,
  sessions: SessionManager.Service,
  options: { readonly sessions: number; readonly rounds: number; readonly handleCycles: number }
): Effect.Effect<LoadFigures, unknown> =>
  Effect.gen(function*() {
    const existing = (yield* client.list()).length
    const started = performance.now()
    yield* Effect.forEach(
      Array.from({ length: Math.max(0, options.sessions - existing) }, (_, i) => i),
      (i) => client.create({ title: `load ${i}` }),
      { concurrency: 24, discard: true }
    )
    const createSeconds = (performance.now() - started) / 1000
    yield* sync.awaitConnected
    yield* sync.reconcile

    const auth = `Basic ${Buffer.from(`opencode:${Redacted.value(server.password)}`).toString("base64")}`
    const reconcile = yield* Effect.promise(() =>
      measure(
        {
          name: `list ${options.sessions} sessions`,
          impls: {
            "raw fetch of the list": () => fetch(`${server.url}/session?limit=100000`, { headers: { authorization: auth } }).then((r) => r.json()),
            "full reconcile (list + apply)": () => Effect.runPromise(sync.reconcile)
          }
        },
        options.rounds,
        3
      )
    )

    const truth = yield* client.list()
    const mirror = yield* cache.list
    const key = (s: { id: string; title: string }) => `${s.id}:${s.title}`
    const cacheEqualsServer = truth.length === mirror.length &&
      JSON.stringify(truth.map(key).sort()) === JSON.stringify(mirror.map(key).sort())

    // Memory per cached session: a second cache, filled from a fresh listing (so the decoded
    // sessions are its own), measured as the heap it holds after a full GC on both sides.
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    const before = process.memoryUsage().heapUsed
    const filled = yield* Effect.gen(function*() {
      const quiet = yield* SessionEvents.make({ capacity: 16 })
      const second = yield* SessionCache.make().pipe(
        Effect.provideService(SessionEvents.SessionEvents, quiet),
        Effect.provideService(OpenCodeClient.OpenCodeClient, client)
      )
      yield* second.reconcile(yield* client.list())
      return second
    }).pipe(Effect.scoped)
    gc?.()
    const after = process.memoryUsage().heapUsed
    const held = yield* filled.size
    const bytesPerCachedSession = Math.round((after - before) / Math.max(1, held))

    // Handle open/destroy cycles on one session. A warm-up of a quarter of the cycles first: the
    // allocator and the heap's reserved pages grow to their working size there (RSS climbs for
    // the first ~25,000 cycles, then stays flat). Heap and RSS are read after a full GC, before,
    // at each quarter and after.
    const target = truth[0]!.id
    const cycle = Effect.flatMap(sessions.open(target), sessions.destroy)
    const quarter = Math.max(1, Math.floor(options.handleCycles / 4))
    for (let i = 0; i < quarter; i++) yield* cycle
    const sample = () => {
      gc?.()
      return process.memoryUsage()
    }
    const memoryBefore = sample()
    const rssSeries: Array<number> = [mib(memoryBefore.rss)]
    for (let done = 0; done < options.handleCycles;) {
      const step = Math.min(quarter, options.handleCycles - done)
      for (let i = 0; i < step; i++) yield* cycle
      done += step
      rssSeries.push(mib(sample().rss))
    }
    const memoryAfter = sample()
    void filled

    return {
      sessions: truth.length,
      createSeconds: Math.round(createSeconds * 10) / 10,
      reconcile,
      cacheEqualsServer,
      bytesPerCachedSession,
      handleCycles: options.handleCycles,
      rssBeforeMiB: mib(memoryBefore.rss),
      rssAfterMiB: mib(memoryAfter.rss),
      rssSeriesMiB: rssSeries,
      heapBeforeMiB: mib(memoryBefore.heapUsed),
      heapAfterMiB: mib(memoryAfter.heapUsed)
    }
  })
