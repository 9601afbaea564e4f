import { FileSystem } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Exit, FastCheck as fc, Layer, Runtime, Scope } from "effect"
import { merge3 } from "../src/internal/merge.js"
import * as OpenCodeConnection from "../src/OpenCodeConnection.js"
import * as OpenCodeServer from "../src/OpenCodeServer.js"
import * as Outbox from "../src/Outbox.js"
import * as Plue from "../src/Plue.js"
import { type Handle, SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"
import * as OtherClient from "@plue/testing/OtherClient"
import * as PlatformLayer from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"

// Random use of the outbox against a pure model: writes through the session manager with the
// outbox on, through a proxy the test cuts and restores; another client that edits and deletes
// directly on the server; restarts of the bridge over the same outbox folder. After every step
// the model says what the bridge shows, what is queued, and (online) what the server holds.

const Live = TestServer.layer().pipe(Layer.provideMerge(PlatformLayer.layer))
type Services = Layer.Layer.Success<typeof Live>

// --- commands -------------------------------------------------------------------------------

/** Titles are words from a small vocabulary, so that edits of one title overlap or not. */
const WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "été", "日本"] as const

/** An edit of a title: one word replaced, inserted or removed, or a whole new title. */
type Edit =
  | { readonly kind: "replace"; readonly at: number; readonly word: string }
  | { readonly kind: "insert"; readonly at: number; readonly word: string }
  | { readonly kind: "remove"; readonly at: number }
  | { readonly kind: "set"; readonly words: ReadonlyArray<string> }

const applyEdit = (title: string, edit: Edit): string => {
  const words = title.split(" ")
  switch (edit.kind) {
    case "replace":
      words[edit.at % words.length] = edit.word
      break
    case "insert":
      words.splice(edit.at % (words.length + 1), 0, edit.word)
      break
    case "remove":
      if (words.length > 1) words.splice(edit.at % words.length, 1)
      break
    case "set":
      return edit.words.join(" ")
  }
  return words.join(" ")
}

/** Indices pick among what exists at that point (modulo its size). */
type Command =
  | { readonly op: "create"; readonly words: ReadonlyArray<string> }
  | { readonly op: "title"; readonly session: number; readonly edit: Edit }
  | { readonly op: "delete"; readonly session: number }
  | { readonly op: "info"; readonly session: number }
  | { readonly op: "list" }
  | { readonly op: "outbox" }
  | { readonly op: "goOffline" }
  | { readonly op: "goOnline" }
  | { readonly op: "flush" }
  | { readonly op: "restart" }
  | { readonly op: "otherTitle"; readonly session: number; readonly edit: Edit }
  | { readonly op: "otherDelete"; readonly session: number }
  | { readonly op: "resolve"; readonly conflict: number; readonly choice: "local" | "remote" | "text"; readonly edit: Edit }

const word = fc.constantFrom(...WORDS)
const words = fc.array(word, { minLength: 2, maxLength: 5 })
const index = fc.nat({ max: 50 })
const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("replace" as const), at: index, word }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("insert" as const), at: index, word }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), at: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("set" as const), words }) }
)
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("create" as const), words }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant("title" as const), session: index, edit }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), session: index }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("info" as const), session: index }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("list" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("outbox" as const) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("goOffline" as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("goOnline" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("flush" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("restart" as const) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant("otherTitle" as const), session: index, edit }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("otherDelete" as const), session: index }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("resolve" as const),
      conflict: index,
      choice: fc.constantFrom("local" as const, "remote" as const, "text" as const),
      edit
    })
  }
)

// --- the pure model -------------------------------------------------------------------------

interface MSession {
  readonly id: string
  /** The title on the server; null: not there (never sent, or deleted). */
  server: string | null
  /** The server's value as this bridge last confirmed it; null: gone; undefined: unknown to it. */
  confirmed: string | null | undefined
  /** This bridge (since its last start) has an entry or a tombstone for it. */
  inGen: boolean
}

interface MOp {
  readonly kind: "create" | "title" | "delete"
  readonly sessionId: string
  title?: string | undefined
  base?: string | undefined
  /** Waiting for the host: the server's title when the conflict was found. */
  conflict?: string | undefined
}

interface Model {
  readonly sessions: Array<MSession>
  /** Queued operations, oldest first (the order of their ids). */
  queue: Array<MOp>
  readonly dead: Array<MOp>
  online: boolean
}

type View = { readonly tag: "visible"; readonly title: string } | { readonly tag: "gone" } | { readonly tag: "unknown" }

/** What the runs went through (printed at the end): a model test that never reaches a case proves nothing about it. */
const tally: Record<string, number> = {}
const count = (what: string) => void (tally[what] = (tally[what] ?? 0) + 1)

const opsOf = (m: Model, id: string) => m.queue.filter((o) => o.sessionId === id)

/** The visible value: the confirmed value with the pending operations folded over it, per field. */
const visible = (m: Model, s: MSession): View => {
  const ops = opsOf(m, s.id)
  if (ops.some((o) => o.kind === "delete")) return { tag: "gone" }
  const create = ops.find((o) => o.kind === "create")
  let title: string
  if (create !== undefined) title = create.title!
  else if (s.confirmed === undefined) return { tag: "unknown" }
  else if (s.confirmed === null) return { tag: "gone" }
  else title = s.confirmed
  for (const o of ops) if (o.kind === "title" && o.conflict === undefined) title = o.title!
  return { tag: "visible", title }
}

/**
 * What the replay does with the server reachable: per session, first in first out, until an
 * operation waits for the host. A rename is compared with the server's title: already there →
 * confirmed; equal to its base → sent; else merged when the word merge is clean, else a conflict.
 */
const replay = (m: Model) => {
  const ids = [...new Set(m.queue.map((o) => o.sessionId))]
  for (const id of ids) {
    const s = m.sessions.find((x) => x.id === id)!
    for (;;) {
      const head = m.queue.find((o) => o.sessionId === id)
      if (head === undefined || head.conflict !== undefined) break
      if (head.kind === "title") {
        if (s.server === null) {
          // 404 on the read before the rename: permanent, a dead letter.
          m.queue = m.queue.filter((o) => o !== head)
          m.dead.push(head)
          count("dead letter")
          continue
        }
        const current = s.server
        if (current !== head.title && current !== head.base) {
          const merged = merge3(head.base!, head.title!, current)
          if (merged._tag === "Conflict") {
            head.conflict = current
            count("conflict")
            break
          }
          count("clean merge")
          s.server = merged.text
        } else s.server = head.title!
      } else if (head.kind === "create") s.server = head.title!
      else s.server = null
      m.queue = m.queue.filter((o) => o !== head)
    }
  }
}

/** Online and caught up: the bridge's confirmed values are the server's. */
const synced = (m: Model) => {
  for (const s of m.sessions) {
    s.confirmed = s.server
    if (s.server !== null) s.inGen = true
  }
}

const expectedPending = (m: Model, id: string) =>
  opsOf(m, id).map((o) => ({ kind: o.kind, field: o.kind === "title" ? "title" : "session", state: o.conflict !== undefined ? "conflict" : "pending" }))

const outboxRow = (
  r: { sessionId: string; kind: string; state: string; title?: string | undefined; base?: string | undefined; remote?: string | undefined }
) => ({ sessionId: r.sessionId, kind: r.kind, state: r.state, title: r.title, base: r.base, remote: r.remote })

const expectedOutbox = (m: Model) => ({
  queued: m.queue.map((o) =>
    outboxRow({
      sessionId: o.sessionId,
      kind: o.kind,
      state: o.conflict !== undefined ? "conflict" : "pending",
      title: o.title,
      base: o.kind === "title" ? o.base : undefined,
      remote: o.conflict
    })
  ),
  // Dead letters are listed in the order they died, which is not fixed across sessions.
  dead: m.dead.map((o) => JSON.stringify([o.sessionId, o.kind, o.title])).sort()
})

// --- the real side --------------------------------------------------------------------------

interface Bridge {
  readonly scope: Scope.CloseableScope
  readonly sessions: SessionManager["Type"]
  readonly sync: SessionSync["Type"]
}

/** A bridge with the outbox in `stateHome`, through the proxy; a restart builds another. */
const openBridge = (proxy: Proxy.Proxy, stateHome: string) =>
  Effect.gen(function*() {
    const server = yield* OpenCodeServer.OpenCodeServer
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      Plue.layer({ sync: { backoff: "50 millis", maxBackoff: "300 millis" } }).pipe(
        Layer.provide(Outbox.layer({ stateHome })),
        Layer.provideMerge(OpenCodeConnection.layer({
          url: proxy.url,
          password: server.password,
          requestTimeout: "10 seconds",
          heartbeatTimeout: "2 seconds",
          retries: 2
        }))
      ),
      scope
    )
    return { scope, sessions: Context.get(context, SessionManager), sync: Context.get(context, SessionSync) } satisfies Bridge
  })

const other = <A = any>(method: string, path: string, body?: unknown) => OtherClient.request<A>(method, path, body)
const serverTitles = Effect.map(
  other<Array<{ id: string; title: string }>>("GET", "/session?limit=10000"),
  (all) => new Map(all.map((s) => [s.id, s.title]))
)

const CEILING = { timeout: "30 seconds" } as const

const run = (commands: ReadonlyArray<Command>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const server = yield* OpenCodeServer.OpenCodeServer
    const stateHome = yield* fs.makeTempDirectoryScoped({ prefix: "plue-outbox-model-" })
    const proxy = yield* Proxy.start(server.url)
    // The other client's sentinel: a change to it, seen by the bridge, means that every earlier
    // change of the other client reached the bridge too (the event stream is ordered).
    const sentinel = yield* other<{ id: string }>("POST", "/session", { title: "sentinel 0" })
    const before = (yield* serverTitles).size
    const m: Model = { sessions: [], queue: [], dead: [], online: true }
    let handles = new Map<string, Handle>()
    let bridge = yield* openBridge(proxy, stateHome)
    let marks = 0
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Scope.close(bridge.scope, Exit.void)
        for (const s of m.sessions) if (s.server !== null) yield* Effect.ignore(other("DELETE", `/session/${s.id}`))
        yield* Effect.ignore(other("DELETE", `/session/${sentinel.id}`))
      })
    )
    yield* bridge.sync.awaitConnected

    const pick = <A>(items: ReadonlyArray<A>, i: number) => (items.length === 0 ? undefined : items[i % items.length])

    const barrier = Effect.gen(function*() {
      const mark = `sentinel ${++marks}`
      yield* other("PATCH", `/session/${sentinel.id}`, { title: mark })
      yield* Wait.until(
        "the bridge to see the other client's change",
        Effect.map(bridge.sessions.list, (all) => all.some((s) => s.id === sentinel.id && s.title === mark)),
        CEILING
      )
    })

    const checkOutbox = (where: string) =>
      Effect.gen(function*() {
        const items = yield* bridge.sessions.outbox.list
        const expected = expectedOutbox(m)
        assert.deepStrictEqual(items.filter((i) => i.state !== "dead").map(outboxRow), expected.queued, `${where}: queued operations`)
        assert.deepStrictEqual(
          items.filter((i) => i.state === "dead").map((i) => JSON.stringify([i.sessionId, i.kind, i.title])).sort(),
          expected.dead,
          `${where}: dead letters`
        )
      })

    const checkList = (where: string) =>
      Effect.gen(function*() {
        const listed = new Map((yield* bridge.sessions.list).map((s) => [s.id as string, s.title]))
        for (const s of m.sessions) {
          const v = visible(m, s)
          assert.strictEqual(listed.get(s.id), v.tag === "visible" ? v.title : undefined, `${where}: list, ${s.id}`)
        }
      })

    const checkServer = (where: string) =>
      Effect.gen(function*() {
        const titles = yield* serverTitles
        for (const s of m.sessions) assert.strictEqual(titles.get(s.id) ?? null, s.server, `${where}: server, ${s.id}`)
        // Every create applied exactly once, every delete once: nothing else on the server.
        assert.strictEqual(titles.size - before, m.sessions.filter((s) => s.server !== null).length, `${where}: sessions on the server`)
      })

    /** Online: the stream (re)connected, the replay went as far as it can; everything agrees. */
    const settle = (where: string) =>
      Effect.gen(function*() {
        yield* Wait.until("the event stream to connect", Effect.map(bridge.sync.state, (s) => s.status === "connected"), CEILING)
        const left = yield* bridge.sessions.outbox.flush
        replay(m)
        synced(m)
        assert.strictEqual(left.length, m.queue.length + m.dead.length, `${where}: what flush left`)
        yield* checkOutbox(where)
        yield* checkList(where)
        yield* checkServer(where)
      })

    /** A handle of this bridge on the session, opened on first use; none when it cannot be. */
    const handleFor = (s: MSession, where: string) =>
      Effect.gen(function*() {
        const known = handles.get(s.id)
        if (known !== undefined) return known
        const v = visible(m, s)
        const opened = yield* Effect.either(bridge.sessions.open(s.id))
        if (v.tag === "visible") {
          assert.strictEqual(opened._tag, "Right", `${where}: open ${JSON.stringify(opened)}`)
          if (opened._tag === "Right") handles.set(s.id, opened.right)
          return opened._tag === "Right" ? opened.right : undefined
        }
        const expected = v.tag === "gone" && s.inGen ? "SessionDeleted" : m.online ? "SessionNotFound" : "Unreachable"
        assert.isTrue(opened._tag === "Left" && opened.left._tag === expected, `${where}: open, expected ${expected}, got ${JSON.stringify(opened)}`)
        return undefined
      })

    for (const [step, c] of commands.entries()) {
      count(`${c.op}${m.online ? "" : " offline"}`)
      const where = `step ${step}: ${JSON.stringify(c)} (${m.online ? "online" : "offline"})`
      switch (c.op) {
        case "create": {
          const title = c.words.join(" ")
          const h = yield* bridge.sessions.create({ title })
          const id = yield* bridge.sessions.sessionId(h)
          handles.set(id, h)
          m.sessions.push({ id, server: null, confirmed: undefined, inGen: true })
          m.queue.push({ kind: "create", sessionId: id, title })
          if (m.online) {
            replay(m)
            synced(m)
          }
          break
        }
        case "title": {
          const s = pick(m.sessions, c.session)
          if (s === undefined) break
          const h = yield* handleFor(s, where)
          if (h === undefined) break
          const v = visible(m, s)
          const result = yield* Effect.either(bridge.sessions.updateTitle(h, applyEdit(v.tag === "visible" ? v.title : "", c.edit)))
          if (v.tag !== "visible") {
            assert.isTrue(result._tag === "Left" && result.left._tag === "SessionDeleted", `${where}: ${JSON.stringify(result)}`)
            break
          }
          const title = applyEdit(v.title, c.edit)
          const ops = opsOf(m, s.id)
          const last = ops[ops.length - 1]
          // A rename after a queued rename replaces it, keeping the first one's base.
          const replaced = last !== undefined && last.kind === "title" && last.conflict === undefined ? last : undefined
          if (replaced !== undefined) count("rename coalesced")
          m.queue = m.queue.filter((o) => o !== replaced)
          m.queue.push({ kind: "title", sessionId: s.id, title, base: replaced?.base ?? v.title })
          if (m.online) {
            replay(m)
            synced(m)
          }
          assert.strictEqual(result._tag, "Right", `${where}: ${JSON.stringify(result)}`)
          const after = visible(m, s)
          if (result._tag === "Right") assert.strictEqual(result.right.title, after.tag === "visible" ? after.title : undefined, `${where}: title`)
          break
        }
        case "delete": {
          const s = pick(m.sessions, c.session)
          if (s === undefined) break
          const h = yield* handleFor(s, where)
          if (h === undefined) break
          const v = visible(m, s)
          const result = yield* Effect.either(bridge.sessions.delete(h))
          if (v.tag !== "visible") {
            assert.isTrue(result._tag === "Left" && result.left._tag === "SessionDeleted", `${where}: ${JSON.stringify(result)}`)
            break
          }
          assert.isTrue(result._tag === "Right" && result.right === 1, `${where}: ${JSON.stringify(result)}`)
          const create = opsOf(m, s.id).find((o) => o.kind === "create")
          // A delete cancels the queued renames; with the create still queued, everything.
          m.queue = m.queue.filter((o) => !(o.sessionId === s.id && (o.kind === "title" || o === create)))
          if (create !== undefined) {
            s.confirmed = null
            count("create cancelled by delete")
          } else {
            m.queue.push({ kind: "delete", sessionId: s.id })
            if (m.online) {
              replay(m)
              synced(m)
            }
          }
          break
        }
        case "info": {
          const s = pick(m.sessions, c.session)
          if (s === undefined) break
          const h = yield* handleFor(s, where)
          if (h === undefined) break
          const v = visible(m, s)
          const result = yield* Effect.either(bridge.sessions.info(h))
          if (v.tag !== "visible") {
            assert.isTrue(result._tag === "Left" && result.left._tag === "SessionDeleted", `${where}: ${JSON.stringify(result)}`)
            break
          }
          assert.strictEqual(result._tag, "Right", `${where}: ${JSON.stringify(result)}`)
          if (result._tag !== "Right") break
          assert.strictEqual(result.right.title, v.title, `${where}: title`)
          assert.deepStrictEqual(
            (result.right.pending ?? []).map((p) => ({ kind: p.kind, field: p.field, state: p.state })),
            expectedPending(m, s.id),
            `${where}: pending`
          )
          break
        }
        case "list":
          yield* checkList(where)
          break
        case "outbox":
          break
        case "goOffline":
          if (!m.online) break
          proxy.setMode("drop")
          m.online = false
          yield* Wait.until("the event stream to be lost", Effect.map(bridge.sync.state, (s) => s.status !== "connected"), CEILING)
          break
        case "goOnline":
          if (m.online) break
          if (m.queue.some((o) => o.conflict === undefined)) count("back online with queued operations")
          proxy.setMode("pass")
          m.online = true
          yield* settle(where)
          break
        case "flush": {
          const left = yield* bridge.sessions.outbox.flush
          if (m.online) {
            replay(m)
            synced(m)
          }
          assert.strictEqual(left.length, m.queue.length + m.dead.length, `${where}: what flush left`)
          break
        }
        case "restart": {
          if (m.queue.length > 0) count(`restart ${m.online ? "online" : "offline"} with queued operations`)
          yield* Scope.close(bridge.scope, Exit.void)
          bridge = yield* openBridge(proxy, stateHome)
          handles = new Map()
          // The new bridge knows the sessions whose create or delete is queued, nothing else yet.
          for (const s of m.sessions) {
            s.confirmed = undefined
            s.inGen = opsOf(m, s.id).some((o) => o.kind === "create" || o.kind === "delete")
          }
          if (m.online) yield* settle(where)
          // Offline: its first replay attempts (at start) have ended before the next step.
          else yield* bridge.sessions.outbox.flush
          break
        }
        case "otherTitle": {
          const s = pick(m.sessions, c.session)
          if (s === undefined || s.server === null) break
          const title = applyEdit(s.server!, c.edit)
          yield* other("PATCH", `/session/${s.id}`, { title })
          s.server = title
          if (m.online) {
            s.confirmed = title
            yield* barrier
          }
          break
        }
        case "otherDelete": {
          const s = pick(m.sessions, c.session)
          if (s === undefined || s.server === null) break
          yield* other("DELETE", `/session/${s.id}`)
          s.server = null
          if (m.online) {
            s.confirmed = null
            s.inGen = true
            yield* barrier
          }
          break
        }
        case "resolve": {
          const op = pick(m.queue.filter((o) => o.conflict !== undefined), c.conflict)
          if (op === undefined) break
          const item = (yield* bridge.sessions.outbox.list).find((i) => i.sessionId === op.sessionId && i.state === "conflict")
          assert.isDefined(item, `${where}: the conflict is listed`)
          if (item === undefined) break
          const remote = op.conflict!
          count(`resolved ${c.choice}`)
          if (c.choice === "remote") {
            yield* bridge.sessions.outbox.resolve(item.opId, "remote")
            m.queue = m.queue.filter((o) => o !== op)
          } else {
            const text = applyEdit(op.title!, c.edit)
            yield* bridge.sessions.outbox.resolve(item.opId, c.choice === "local" ? "local" : { text })
            // Sent over the title the host saw: the server's at the time of the conflict.
            if (c.choice === "text") op.title = text
            op.base = remote
            op.conflict = undefined
          }
          // The resolution wakes the replay: wait for it to end.
          yield* bridge.sessions.outbox.flush
          if (m.online) {
            replay(m)
            synced(m)
          }
          break
        }
      }
      yield* checkOutbox(where)
      if (m.online && (c.op === "otherTitle" || c.op === "otherDelete" || c.op === "resolve")) yield* checkList(where)
    }

    // The end of a run: back online, everything that can be sent is sent exactly once, in order.
    if (!m.online) {
      if (m.queue.some((o) => o.conflict === undefined)) count("back online with queued operations")
      proxy.setMode("pass")
      m.online = true
    }
    yield* settle("at the end")
  })

const runs = Number(process.env.PLUE_PROPERTY_RUNS ?? 5)
const budget = 60_000 + runs * 20_000

layer(Live, { timeout: budget + 60_000, excludeTestServices: true })("random use of the outbox against a pure model", (it) => {
  it.effect(
    "random sequences of create, title, delete, info, list, offline, online, flush, restart, another client's edits and conflict resolution agree with the model",
    () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Services>()
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              // A few sessions made online first, so that offline steps have something to work on;
              // then one or two stretches of random steps, offline in the middle (random steps
              // go offline and online too).
              fc.tuple(
                fc.array(fc.record({ op: fc.constant("create" as const), words }), { minLength: 1, maxLength: 3 }),
                fc.array(
                  fc.tuple(fc.array(command, { maxLength: 3 }), fc.array(command, { minLength: 2, maxLength: 8 })).map((
                    [online, offline]
                  ): Array<Command> => [...online, { op: "goOffline" }, ...offline, { op: "goOnline" }]),
                  { minLength: 1, maxLength: 2 }
                )
              ).map(([first, rest]): Array<Command> => [...first, ...rest.flat()]),
              (commands) => Runtime.runPromise(runtime)(Effect.scoped(run(commands)))
            ),
            {
              numRuns: runs,
              // A failure is shrunk to a short sequence, within the test's time.
              interruptAfterTimeLimit: budget,
              markInterruptAsFailure: true,
              // Replay a failure: PLUE_PROPERTY_SEED and PLUE_PROPERTY_PATH from its report.
              ...(process.env.PLUE_PROPERTY_SEED ? { seed: Number(process.env.PLUE_PROPERTY_SEED) } : {}),
              ...(process.env.PLUE_PROPERTY_PATH ? { path: process.env.PLUE_PROPERTY_PATH } : {})
            }
          )
        )
        console.log(`outbox model, ${runs} runs: ${JSON.stringify(Object.fromEntries(Object.entries(tally).sort()))}`)
      }),
    { timeout: budget + 30_000 }
  )
})
