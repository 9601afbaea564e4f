import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Effect, FastCheck as fc, Layer, Runtime } from "effect"
import { createServer } from "node:http"
import * as Plue from "../src/Plue.js"
import { type Handle, SessionManager } from "../src/SessionManager.js"
import { SessionSync } from "../src/SessionSync.js"
import { ShareService, ShareStore } from "@plue/share"
import * as Platform from "@plue/testing/Platform"
import * as TestServer from "@plue/testing/TestServer"

// A real server sharing through plue's share service (in memory here), so share and unshare work.
// The managed server and the session manager both see the share service through ShareGrants.
const Shares = ShareService.layerEmbedded().pipe(
  Layer.provide(ShareStore.layerMemory),
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const Live = Plue.layer().pipe(
  Layer.provideMerge(TestServer.layer()),
  Layer.provideMerge(Shares),
  Layer.provideMerge(Platform.layer)
)

/** What a random use does; indices pick among what exists at that point (modulo its size). */
type Command =
  | { readonly op: "create"; readonly parent: number | null; readonly title: string }
  | { readonly op: "open"; readonly session: number }
  | { readonly op: "title"; readonly handle: number; readonly title: string }
  | { readonly op: "info"; readonly handle: number }
  | { readonly op: "delete"; readonly handle: number }
  | { readonly op: "destroy"; readonly handle: number }
  | { readonly op: "abort"; readonly handle: number }
  | { readonly op: "share"; readonly handle: number }
  | { readonly op: "unshare"; readonly handle: number }
  | { readonly op: "list" }

const title = fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" })
const index = fc.nat({ max: 50 })
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ op: fc.constant("create" as const), parent: fc.option(index, { nil: null }), title }),
  fc.record({ op: fc.constant("open" as const), session: index }),
  fc.record({ op: fc.constant("title" as const), handle: index, title }),
  fc.record({ op: fc.constant("info" as const), handle: index }),
  fc.record({ op: fc.constant("delete" as const), handle: index }),
  fc.record({ op: fc.constant("destroy" as const), handle: index }),
  fc.record({ op: fc.constant("abort" as const), handle: index }),
  fc.record({ op: fc.constant("share" as const), handle: index }),
  fc.record({ op: fc.constant("unshare" as const), handle: index }),
  fc.record({ op: fc.constant("list" as const) })
)

/** The pure model: what should be true. */
interface Model {
  readonly sessions: Array<{ id: string; title: string; parent: string | null; deleted: boolean; shared: boolean }>
  readonly handles: Array<{ handle: Handle; sessionId: string; destroyed: boolean }>
}

const expectedFailure = (model: Model, h: Model["handles"][number]): "InvalidHandle" | "SessionDeleted" | undefined => {
  if (h.destroyed) return "InvalidHandle"
  if (model.sessions.find((s) => s.id === h.sessionId)?.deleted) return "SessionDeleted"
  return undefined
}

const run = (commands: ReadonlyArray<Command>) =>
  Effect.gen(function*() {
    const sessions = yield* SessionManager
    const model: Model = { sessions: [], handles: [] }
    const pick = <A>(items: ReadonlyArray<A>, i: number) => (items.length === 0 ? undefined : items[i % items.length])
    const outcome = <A, E extends { _tag: string }>(effect: Effect.Effect<A, E>) => Effect.either(effect)

    for (const [step, c] of commands.entries()) {
      const where = `step ${step}: ${JSON.stringify(c)}`
      switch (c.op) {
        case "create": {
          const live = model.sessions.filter((s) => !s.deleted)
          const parent = c.parent === null ? undefined : pick(live, c.parent)
          const h = yield* sessions.create({ parentID: parent?.id, title: c.title })
          const id = yield* sessions.sessionId(h)
          model.sessions.push({ id, title: c.title, parent: parent?.id ?? null, deleted: false, shared: false })
          model.handles.push({ handle: h, sessionId: id, destroyed: false })
          break
        }
        case "open": {
          const s = pick(model.sessions, c.session)
          if (!s) break
          const result = yield* outcome(sessions.open(s.id))
          if (s.deleted) assert.isTrue(result._tag === "Left" && result.left._tag === "SessionDeleted", where)
          else {
            assert.strictEqual(result._tag, "Right", where)
            if (result._tag === "Right") model.handles.push({ handle: result.right, sessionId: s.id, destroyed: false })
          }
          break
        }
        case "title":
        case "info":
        case "abort":
        case "share":
        case "unshare":
        case "delete":
        case "destroy": {
          const h = pick(model.handles, c.handle)
          if (!h) break
          const failure = c.op === "destroy" ? (h.destroyed ? "InvalidHandle" : undefined) : expectedFailure(model, h)
          const effect = c.op === "title"
            ? sessions.updateTitle(h.handle, c.title)
            : c.op === "info"
            ? sessions.info(h.handle)
            : c.op === "abort"
            ? sessions.abort(h.handle)
            : c.op === "share"
            ? sessions.share(h.handle)
            : c.op === "unshare"
            ? sessions.unshare(h.handle)
            : c.op === "delete"
            ? sessions.delete(h.handle)
            : sessions.destroy(h.handle)
          const result = yield* outcome(effect as Effect.Effect<unknown, { _tag: string }>)
          if (failure !== undefined) {
            assert.isTrue(result._tag === "Left" && result.left._tag === failure, `${where}: expected ${failure}, got ${JSON.stringify(result)}`)
            break
          }
          assert.strictEqual(result._tag, "Right", `${where}: ${JSON.stringify(result)}`)
          const session = model.sessions.find((s) => s.id === h.sessionId)!
          if (c.op === "title") session.title = c.title
          if (c.op === "info") {
            const info = (result as { right: { title: string; share?: { url: string } } }).right
            assert.strictEqual(info.title, session.title, where)
            assert.strictEqual(info.share !== undefined, session.shared, `${where}: shared`)
          }
          if (c.op === "share") {
            assert.match((result as { right: { url: string } }).right.url, /\/share\//, where)
            session.shared = true
          }
          if (c.op === "unshare") session.shared = false
          if (c.op === "destroy") h.destroyed = true
          if (c.op === "delete") {
            const gone = new Set([session.id])
            for (let grew = true; grew;) {
              grew = false
              for (const s of model.sessions) {
                if (!gone.has(s.id) && s.parent !== null && gone.has(s.parent) && !s.deleted) {
                  gone.add(s.id)
                  grew = true
                }
              }
            }
            const expected = model.sessions.filter((s) => gone.has(s.id) && !s.deleted).length
            assert.strictEqual((result as { right: number }).right, expected, `${where}: sessions deleted`)
            for (const s of model.sessions) if (gone.has(s.id)) s.deleted = true
          }
          break
        }
        case "list": {
          const listed = new Map<string, string>((yield* sessions.list).map((s) => [s.id, s.title]))
          for (const s of model.sessions) {
            if (s.deleted) assert.isFalse(listed.has(s.id), `${where}: ${s.id} was deleted`)
            else assert.strictEqual(listed.get(s.id), s.title, `${where}: ${s.id}`)
          }
          break
        }
      }
    }
    // Every handle the run left open is closed: nothing leaks from one run to the next.
    for (const h of model.handles) if (!h.destroyed) yield* sessions.destroy(h.handle)
  })

layer(Live, { timeout: 180_000, excludeTestServices: true })("random use against a pure model", (it) => {
  it.effect(
    "random sequences of create, open, title, info, delete, destroy, abort, share, unshare and list agree with the model",
    () =>
      Effect.gen(function*() {
        yield* (yield* SessionSync).awaitConnected
        const runtime = yield* Effect.runtime<SessionManager>()
        const runs = Number(process.env.PLUE_PROPERTY_RUNS ?? 8)
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 30 }), (commands) => Runtime.runPromise(runtime)(run(commands))),
            {
              numRuns: runs,
              endOnFailure: true,
              // Replay a failure: PLUE_PROPERTY_SEED and PLUE_PROPERTY_PATH from its report.
              ...(process.env.PLUE_PROPERTY_SEED ? { seed: Number(process.env.PLUE_PROPERTY_SEED) } : {}),
              ...(process.env.PLUE_PROPERTY_PATH ? { path: process.env.PLUE_PROPERTY_PATH } : {})
            }
          )
        )
        assert.deepStrictEqual(yield* (yield* SessionManager).handles, [])
      }),
    { timeout: 170_000 }
  )
})
