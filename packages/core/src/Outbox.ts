/**
 * The durable outbox: with it on (`PLUE_OUTBOX=1`, or `Outbox.layer`), every create, title change
 * and delete of the session manager is first written to a file of its own, then sent; while the
 * server is unreachable it waits there (already visible in the manager's reads and events) and is
 * replayed when the server answers again, exactly once, also after a crash.
 *
 * Files live under `$XDG_STATE_HOME/plue/outbox/<key>/` (`~/.local/state` without
 * `XDG_STATE_HOME`), the key naming the server URL and project directory: `ops/` holds one file
 * per queued operation, `dead/` the dead letters, `deleted/` plue's own record of the sessions it
 * deleted, `quarantine/` files that could not be read.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { SessionId } from "./Identifier.js"
import * as OpenCodeConnection from "./OpenCodeConnection.js"

/**
 * A queued create of a root session, under an id chosen here.
 *
 * @since 0.1.0
 */
export const CreateOp = Schema.Struct({
  kind: Schema.Literal("create"),
  opId: Schema.String,
  sessionId: SessionId,
  title: Schema.optional(Schema.String),
  at: Schema.Number
})

/**
 * A queued title change, with the title it was typed over (`base`). `conflict` is set while it
 * waits for the host to resolve a conflict: the server's title then. Without `base` (queued where
 * the session was never seen: `plue session title --queue` with the server unreachable), there is
 * nothing to compare with: it is sent over whatever title the server has.
 *
 * @since 0.1.0
 */
export const TitleOp = Schema.Struct({
  kind: Schema.Literal("title"),
  opId: Schema.String,
  sessionId: SessionId,
  title: Schema.String,
  base: Schema.optional(Schema.String),
  conflict: Schema.optional(Schema.Struct({ remote: Schema.String })),
  at: Schema.Number
})

/**
 * A queued delete (of the session and its descendants).
 *
 * @since 0.1.0
 */
export const DeleteOp = Schema.Struct({
  kind: Schema.Literal("delete"),
  opId: Schema.String,
  sessionId: SessionId,
  at: Schema.Number
})

/**
 * One queued operation, as its file holds it.
 *
 * @since 0.1.0
 */
export const Operation = Schema.Union(CreateOp, TitleOp, DeleteOp)

/**
 * @since 0.1.0
 */
export type Operation = typeof Operation.Type

/**
 * An operation that can never succeed, with why.
 *
 * @since 0.1.0
 */
export const DeadLetter = Schema.Struct({
  op: Operation,
  error: Schema.String,
  errorTag: Schema.String,
  at: Schema.Number
})

/**
 * @since 0.1.0
 */
export type DeadLetter = typeof DeadLetter.Type

/**
 * What to do when a queued title change meets a different title on the server than its base:
 * `merge` (a clean word-level merge is sent, anything else waits for the host), `server` (the
 * server's title stays, the change is rolled back), `local` (the change is sent over it).
 *
 * @since 0.1.0
 */
export const Policy = Schema.Literal("merge", "server", "local")

/**
 * @since 0.1.0
 */
export type Policy = typeof Policy.Type

/**
 * How the host resolves a conflict: keep its own title, keep the server's, or send a text of its own.
 *
 * @since 0.1.0
 */
export type Choice = "local" | "remote" | { readonly text: string }

/**
 * An entry of `list`: a queued operation (`pending`), one waiting for its conflict to be resolved
 * (`conflict`), or a dead letter (`dead`).
 *
 * @since 0.1.0
 */
export interface Item {
  readonly opId: string
  readonly sessionId: SessionId
  readonly kind: Operation["kind"]
  readonly state: "pending" | "conflict" | "dead"
  readonly title?: string | undefined
  readonly base?: string | undefined
  readonly remote?: string | undefined
  readonly error?: string | undefined
}

/**
 * The outbox's files could not be written or read.
 *
 * @since 0.1.0
 */
export class OutboxError extends Schema.TaggedError<OutboxError>("@plue/core/OutboxError")(
  "OutboxError",
  { operation: Schema.String, path: Schema.String, detail: Schema.String }
) {
  override get message(): string {
    return `The outbox could not ${this.operation} ${this.path}: ${this.detail}. Check that the folder is writable and the disk not full.`
  }
}

/**
 * No queued operation, conflict or dead letter has that id.
 *
 * @since 0.1.0
 */
export class OperationNotFound extends Schema.TaggedError<OperationNotFound>("@plue/core/OperationNotFound")(
  "OperationNotFound",
  { opId: Schema.String, detail: Schema.String }
) {
  override get message(): string {
    return `No outbox operation ${this.opId} ${this.detail}. \`plue outbox list\` shows what is queued.`
  }
}

/**
 * The files of one outbox.
 *
 * @since 0.1.0
 */
export interface Store {
  readonly directory: string
  /** Everything on disk; unreadable files are moved to `quarantine/` and named in `quarantined`. */
  readonly load: Effect.Effect<
    {
      readonly ops: ReadonlyArray<Operation>
      readonly dead: ReadonlyArray<DeadLetter>
      readonly deleted: ReadonlyArray<string>
      readonly quarantined: ReadonlyArray<string>
    },
    OutboxError
  >
  /** Writes (or replaces) an operation's file, atomically and synced before it counts. */
  readonly put: (op: Operation) => Effect.Effect<void, OutboxError>
  readonly remove: (opId: string) => Effect.Effect<void, OutboxError>
  /** Moves an operation to the dead letters. */
  readonly putDead: (dead: DeadLetter) => Effect.Effect<void, OutboxError>
  readonly removeDead: (opId: string) => Effect.Effect<void, OutboxError>
  /** Notes that plue deletes this session (written before the delete is sent). */
  readonly recordDeleted: (sessionId: string) => Effect.Effect<void, OutboxError>
}

/**
 * The outbox's settings, as the session manager reads them.
 *
 * @since 0.1.0
 */
export interface Settings {
  readonly enabled: boolean
  readonly policy: Policy
  readonly store: Store
}

/**
 * The outbox. Without it in the context, or with `enabled: false`, the manager works as without
 * an outbox: a write to an unreachable server fails with `Unreachable`.
 *
 * @since 0.1.0
 */
export class Outbox extends Context.Tag("@plue/core/Outbox")<Outbox, Settings>() {}

/**
 * Options of the outbox.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Default `true` for `layer`; `PLUE_OUTBOX` for `layerConfig`. */
  readonly enabled?: boolean | undefined
  /** Default `merge`. */
  readonly policy?: Policy | undefined
  /**
   * The state folder the outbox goes under (`<stateHome>/plue/outbox/<key>`). Default
   * `$XDG_STATE_HOME`, else `$HOME/.local/state`.
   */
  readonly stateHome?: string | undefined
}

/**
 * The key of a server URL and project directory: the outbox folder's name.
 *
 * @since 0.1.0
 */
export const key = (url: string, directory: string | undefined): string =>
  createHash("sha256").update(`${url.replace(/\/+$/, "")}\n${directory ?? ""}`).digest("hex").slice(0, 20)

/**
 * The key of a connection: its URL and directory, or, for a managed server (whose port changes
 * every run), `managed:` and the directory it serves in place of the URL, so that the next run
 * finds what this one queued.
 *
 * @since 0.1.0
 */
export const keyOf = (settings: {
  readonly url: string
  readonly directory: Option.Option<string>
  readonly managed?: string | undefined
}): string => key(settings.managed !== undefined ? `managed:${settings.managed}` : settings.url, Option.getOrUndefined(settings.directory))

const decodeOp = Schema.decodeUnknownEither(Schema.parseJson(Operation))
const decodeDead = Schema.decodeUnknownEither(Schema.parseJson(DeadLetter))
const encodeJson = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`

/**
 * The files of the outbox in `directory`.
 *
 * @since 0.1.0
 */
export const makeStore = (directory: string): Effect.Effect<Store, OutboxError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const fail = (operation: string, path: string) => (error: PlatformError) => new OutboxError({ operation, path, detail: error.message })
    const folder = (name: string) => `${directory}/${name}`
    for (const name of ["ops", "dead", "deleted", "quarantine"]) {
      yield* fs.makeDirectory(folder(name), { recursive: true }).pipe(Effect.mapError(fail("create", folder(name))))
    }
    let counter = 0
    // Written beside, synced, then renamed over: a crash leaves the old file or the new one,
    // never half of one.
    const writeAtomic = (path: string, text: string) =>
      Effect.gen(function*() {
        const temporary = `${path}.tmp-${process.pid}-${++counter}`
        yield* Effect.scoped(Effect.gen(function*() {
          const file = yield* fs.open(temporary, { flag: "w" })
          yield* file.writeAll(new TextEncoder().encode(text))
          yield* file.sync
        }))
        yield* fs.rename(temporary, path)
      }).pipe(Effect.mapError(fail("write", path)))
    const removeFile = (path: string) =>
      fs.remove(path).pipe(
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.void),
        Effect.mapError(fail("remove", path))
      )
    const quarantine = (from: string, name: string) =>
      fs.rename(`${from}/${name}`, `${folder("quarantine")}/${Date.now()}-${name}`).pipe(
        Effect.mapError(fail("quarantine", `${from}/${name}`))
      )
    const readAll = <A>(
      name: string,
      decode: (text: string) => Either.Either<A, unknown>,
      quarantined: Array<string>
    ) =>
      Effect.gen(function*() {
        const names = yield* fs.readDirectory(folder(name)).pipe(Effect.mapError(fail("read", folder(name))))
        const out: Array<A> = []
        for (const file of names.sort()) {
          const text = file.endsWith(".json") && !file.includes(".tmp-")
            ? yield* Effect.option(fs.readFileString(`${folder(name)}/${file}`))
            : Option.none()
          const decoded = Option.flatMap(text, (t) => Either.getRight(decode(t)))
          if (Option.isSome(decoded)) out.push(decoded.value)
          else {
            quarantined.push(`${name}/${file}`)
            yield* quarantine(folder(name), file)
          }
        }
        return out
      })
    const opFile = (opId: string) => `${folder("ops")}/${opId}.json`
    const deadFile = (opId: string) => `${folder("dead")}/${opId}.json`
    const store: Store = {
      directory,
      load: Effect.gen(function*() {
        const quarantined: Array<string> = []
        const ops = yield* readAll("ops", decodeOp, quarantined)
        const dead = yield* readAll("dead", decodeDead, quarantined)
        const deleted = yield* fs.readDirectory(folder("deleted")).pipe(Effect.mapError(fail("read", folder("deleted"))))
        return { ops, dead, deleted: deleted.filter((n) => !n.includes(".tmp-")), quarantined }
      }),
      put: (op) => writeAtomic(opFile(op.opId), encodeJson(op)),
      remove: (opId) => removeFile(opFile(opId)),
      putDead: (dead) => Effect.zipRight(writeAtomic(deadFile(dead.op.opId), encodeJson(dead)), removeFile(opFile(dead.op.opId))),
      removeDead: (opId) => removeFile(deadFile(opId)),
      recordDeleted: (sessionId) => writeAtomic(`${folder("deleted")}/${sessionId}`, `${sessionId}\n`)
    }
    return store
  })

/**
 * Where the outbox of a connection lives.
 *
 * @since 0.1.0
 */
export const directoryFor = (
  settings: OpenCodeConnection.ConnectionSettings,
  stateHome: string
): string => `${stateHome}/plue/outbox/${keyOf(settings)}`

/**
 * The state folder the outbox goes under: `$XDG_STATE_HOME`, else `$HOME/.local/state`.
 *
 * @since 0.1.0
 */
export const stateHomeConfig: Config.Config<string> = Config.string("XDG_STATE_HOME").pipe(
  Config.orElse(() => Config.map(Config.string("HOME"), (home) => `${home}/.local/state`))
)

/**
 * The outbox for the provided connection (on unless `enabled: false`).
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Outbox, OutboxError | ConfigError.ConfigError, FileSystem.FileSystem | OpenCodeConnection.OpenCodeConnection> =>
  Layer.effect(
    Outbox,
    Effect.gen(function*() {
      const settings = yield* OpenCodeConnection.OpenCodeConnection
      const stateHome = options.stateHome ?? (yield* stateHomeConfig)
      const store = yield* makeStore(directoryFor(settings, stateHome))
      return { enabled: options.enabled ?? true, policy: options.policy ?? "merge", store }
    })
  )

/**
 * The configuration read by `layerConfig`: `PLUE_OUTBOX` (`1`/`true` turns it on; default off)
 * and `PLUE_OUTBOX_POLICY` (`merge`, `server` or `local`; default `merge`).
 *
 * @since 0.1.0
 */
export const config: Config.Config<{ readonly enabled: boolean; readonly policy: Policy }> = Config.all({
  enabled: Config.withDefault(Config.boolean("PLUE_OUTBOX"), false),
  policy: Config.withDefault(Config.literal("merge", "server", "local")("PLUE_OUTBOX_POLICY"), "merge" as const)
})

/**
 * The outbox as configured (see `config`). Off, it provides a disabled outbox and touches no file.
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<
  Outbox,
  OutboxError | ConfigError.ConfigError,
  FileSystem.FileSystem | OpenCodeConnection.OpenCodeConnection
> = Layer.unwrapEffect(
  Effect.map(config, (c) =>
    c.enabled
      ? layer({ enabled: true, policy: c.policy })
      : Layer.succeed(Outbox, {
        enabled: false,
        policy: c.policy,
        store: disabledStore
      }))
)

const disabledStore: Store = {
  directory: "",
  load: Effect.succeed({ ops: [], dead: [], deleted: [], quarantined: [] }),
  put: () => Effect.void,
  remove: () => Effect.void,
  putDead: () => Effect.void,
  removeDead: () => Effect.void,
  recordDeleted: () => Effect.void
}
