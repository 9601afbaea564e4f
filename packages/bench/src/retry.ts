/**
 * Retries on OpenCode's storage error: a title change sent at the start of a 10 s write lock on
 * the real server's database (another process holding `BEGIN IMMEDIATE`), with plue's default
 * retry settings, against the same change with storage retries off (its one attempt fails).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { OpenCodeClient, OpenCodeConnection } from "@plue/core"
import * as DbLock from "@plue/testing/DbLock"
import type { Sandbox } from "@plue/testing/TestServer"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"

export interface RetryFigures {
  readonly lockSeconds: number
  readonly rounds: number
  /** From sending the rename (at the start of the lock) to its success, ms, each round. */
  readonly successMs: ReadonlyArray<number>
  /** From the lock's release to the rename's success, ms, each round. */
  readonly afterReleaseMs: ReadonlyArray<number>
  /** Requests sent for each rename. */
  readonly attempts: ReadonlyArray<number>
  /** Baseline: the same rename with storage retries off, ms until it failed, and its error. */
  readonly withoutRetries: { readonly failedAfterMs: number; readonly error: string }
}

export const retryBench = (
  server: { readonly url: string; readonly password: import("effect/Redacted").Redacted<string> },
  sandbox: Sandbox,
  rounds: number,
  lockSeconds = 10
) =>
  Effect.gen(function*() {
    let sent = 0
    const clientWith = (options: Partial<OpenCodeConnection.Options>) =>
      OpenCodeClient.make.pipe(
        Effect.provideService(OpenCodeConnection.OpenCodeConnection, OpenCodeConnection.make({ url: server.url, password: server.password, ...options })),
        Effect.updateService(HttpClient.HttpClient, (http) => HttpClient.tapRequest(http, () => Effect.sync(() => void sent++)))
      )
    const client = yield* clientWith({})
    const database = DbLock.databaseOf(sandbox)
    const successMs: Array<number> = []
    const afterReleaseMs: Array<number> = []
    const attempts: Array<number> = []
    for (let round = 0; round < rounds; round++) {
      const session = yield* client.create({ title: `retry bench ${round}` })
      yield* Effect.scoped(Effect.gen(function*() {
        const lock = yield* DbLock.hold(database, Duration.seconds(lockSeconds))
        let releasedAt = 0
        const release = yield* Effect.fork(Effect.map(lock.released, () => void (releasedAt = Date.now())))
        const before = sent
        const started = Date.now()
        yield* client.update(session.id, { title: `renamed under the lock ${round}` })
        const done = Date.now()
        yield* Fiber.join(release)
        successMs.push(done - started)
        afterReleaseMs.push(done - releasedAt)
        attempts.push(sent - before)
      }))
    }
    const plain = yield* clientWith({ storageRetryBudget: 0 })
    const session = yield* client.create({ title: "retry bench baseline" })
    const withoutRetries = yield* Effect.scoped(Effect.gen(function*() {
      yield* DbLock.hold(database, Duration.seconds(lockSeconds))
      const started = Date.now()
      const result = yield* Effect.either(plain.update(session.id, { title: "never" }))
      return {
        failedAfterMs: Date.now() - started,
        error: Either.isLeft(result) ? `${result.left._tag}${"status" in result.left ? ` ${result.left.status}` : ""}` : "succeeded"
      }
    }))
    const figures: RetryFigures = { lockSeconds, rounds, successMs, afterReleaseMs, attempts, withoutRetries }
    return figures
  })

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

/** The report's lines. */
export const retryTable = (f: RetryFigures): string =>
  [
    `  rename sent at the start of the lock -> success: p50 ${(median(f.successMs) / 1000).toFixed(2)} s ` +
    `(each: ${f.successMs.map((ms) => (ms / 1000).toFixed(2)).join(", ")} s); baseline: the lock itself, ${f.lockSeconds} s`,
    `  success after the lock's release: p50 ${median(f.afterReleaseMs)} ms (each: ${f.afterReleaseMs.join(", ")} ms)`,
    `  requests per rename: ${f.attempts.join(", ")}`,
    `  without storage retries (storageRetryBudget 0): ${f.withoutRetries.error} after ${(f.withoutRetries.failedAfterMs / 1000).toFixed(2)} s`
  ].join("\n")
