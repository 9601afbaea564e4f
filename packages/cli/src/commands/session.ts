/**
 * `plue session ...`: manual session operations.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Identifier, OpenCodeClient, type OpenCodeSchema, ShareGrants } from "@plue/core"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Connection from "../Connection.js"
import { json, localTime, sanitize, table, truncate } from "../Output.js"

const jsonFlag = Options.boolean("json").pipe(Options.withDescription("Print JSON for machines instead of text for people"))
const sessionId = Args.text({ name: "ID" }).pipe(Args.withDescription("A session id, like ses_df557fc75ffe8uAWx0P0wTjSPl"))

/** Checks the id before anything else runs: a bad id never reaches a server, or starts one. */
const validId = <A, E, R>(raw: string, f: (id: Identifier.SessionId) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(Identifier.parseSessionId(raw), f)

const withClient = <A, E, R>(
  connection: Connection.ConnectionOptions,
  effect: Effect.Effect<A, E, R>
) => Effect.provide(effect, Connection.layer(connection))

const describe = (text: string, examples: ReadonlyArray<string>) =>
  Command.withDescription(`${text}\n\nExamples:\n${examples.map((e) => `  ${e}`).join("\n")}`)

/** One session for people: field per line. */
const details = (s: OpenCodeSchema.Session): string =>
  table(["", ""], [
    ["id", s.id],
    ["title", sanitize(s.title)],
    ["created", localTime(s.time.created)],
    ["updated", localTime(s.time.updated)],
    ["parent", s.parentID ?? "-"],
    ["shared", s.share?.url ? sanitize(s.share.url) : "no"],
    ["directory", sanitize(s.directory)],
    ["version", s.version]
  ]).split("\n").slice(1).join("\n")

const print = (asJson: boolean, value: unknown, text: () => string) => Console.log(asJson ? json(value) : text())

const create = Command.make("create", {
  ...Connection.options,
  parent: Options.text("parent").pipe(Options.withDescription("Create it as a child of this session"), Options.optional),
  title: Options.text("title").pipe(Options.withDescription("Its title (default: OpenCode's)"), Options.optional),
  json: jsonFlag
}, (o) =>
  Effect.gen(function*() {
    const parentID = Option.getOrUndefined(o.parent)
    if (parentID !== undefined) yield* Identifier.parseSessionId(parentID)
    const session = yield* withClient(o, Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) =>
      c.create({ parentID, title: Option.getOrUndefined(o.title) })))
    yield* print(o.json, session, () => `created ${session.id}  ${sanitize(session.title)}`)
  })).pipe(describe("Create a session", [
    "plue session create --title \"Refactor the parser\"",
    "plue session create --parent ses_df557fc75ffe8uAWx0P0wTjSPl --json"
  ]))

const list = Command.make("list", {
  ...Connection.options,
  roots: Options.boolean("roots").pipe(Options.withDescription("Only sessions without a parent")),
  json: jsonFlag
}, (o) =>
  Effect.gen(function*() {
    const sessions = yield* withClient(o, Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) => c.list({ roots: o.roots })))
    if (o.json) return yield* Console.log(json(sessions))
    if (sessions.length === 0) return yield* Console.log("no sessions")
    const width = Math.max(20, (process.stdout.columns ?? 120) - 30 - 21 - 30 - 8 - 8)
    yield* Console.log(table(
      ["ID", "TITLE", "UPDATED", "PARENT", "SHARED"],
      sessions.map((s) => [s.id, truncate(sanitize(s.title), width), localTime(s.time.updated), s.parentID ?? "-", s.share?.url ? "yes" : "no"])
    ))
    yield* Console.log(`${sessions.length} session${sessions.length === 1 ? "" : "s"}`)
  })).pipe(describe("List every session, newest update first (never cut at 100)", [
    "plue session list",
    "plue session list --roots --json"
  ]))

const get = Command.make("get", { ...Connection.options, id: sessionId, json: jsonFlag }, (o) =>
  validId(o.id, (id) =>
    Effect.gen(function*() {
      const session = yield* withClient(o, Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) => c.get(id)))
      yield* print(o.json, session, () => details(session))
    }))).pipe(describe("Show one session", ["plue session get ses_df557fc75ffe8uAWx0P0wTjSPl"]))

const title = Command.make("title", {
  ...Connection.options,
  id: sessionId,
  text: Args.text({ name: "TEXT" }).pipe(Args.withDescription("The new title")),
  json: jsonFlag
}, (o) =>
  validId(o.id, (id) =>
    Effect.gen(function*() {
      const session = yield* withClient(o, Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) => c.update(id, { title: o.text })))
      yield* print(o.json, session, () => `titled ${session.id}  ${sanitize(session.title)}`)
    }))).pipe(describe("Set a session's title", ["plue session title ses_df557fc75ffe8uAWx0P0wTjSPl \"Parser, take two\""]))

const init = Command.make("init", {
  ...Connection.options,
  id: sessionId,
  provider: Options.text("provider").pipe(Options.withDescription("Provider id, e.g. anthropic")),
  model: Options.text("model").pipe(Options.withDescription("Model id, e.g. claude-sonnet-4")),
  json: jsonFlag
}, (o) =>
  validId(o.id, (id) =>
    Effect.gen(function*() {
      yield* withClient(o, Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) => c.init(id, { providerID: o.provider, modelID: o.model })))
      yield* print(o.json, { initialized: id }, () => `initialized ${id} with ${o.provider}/${o.model}`)
    }))).pipe(describe("Run OpenCode's init (AGENTS.md) turn on a model; waits for it to end", [
    "plue session init ses_df557fc75ffe8uAWx0P0wTjSPl --provider anthropic --model claude-sonnet-4"
  ]))

/** Every descendant of a session, deepest first. */
const descendants = (client: OpenCodeClient.Service, id: string): Effect.Effect<ReadonlyArray<string>, unknown> =>
  Effect.flatMap(client.children(id), (children) =>
    Effect.map(
      Effect.forEach(children, (child) => Effect.map(descendants(client, child.id), (below) => [...below, child.id]), { concurrency: 8 }),
      (nested) => nested.flat()
    ))

const remove = Command.make("delete", { ...Connection.options, id: sessionId, json: jsonFlag }, (o) =>
  validId(o.id, (id) =>
    Effect.gen(function*() {
      const result = yield* withClient(o, Effect.gen(function*() {
        const client = yield* OpenCodeClient.OpenCodeClient
        const children = yield* descendants(client, id)
        yield* client.delete(id)
        return children
      }))
      yield* print(o.json, { deleted: id, children: result }, () =>
        `deleted ${id}${result.length > 0 ? ` and ${result.length} child session${result.length === 1 ? "" : "s"}` : ""}`)
    }))).pipe(describe("Delete a session and all its children", ["plue session delete ses_df557fc75ffe8uAWx0P0wTjSPl"]))

const abort = Command.make("abort", { ...Connection.options, id: sessionId, json: jsonFlag }, (o) =>
  validId(o.id, (id) =>
    Effect.gen(function*() {
      yield* withClient(o, Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) => c.abort(id)))
      yield* print(o.json, { aborted: id }, () => `aborted ${id}`)
    }))).pipe(describe("Stop whatever a session is running", ["plue session abort ses_df557fc75ffe8uAWx0P0wTjSPl"]))

const share = Command.make("share", { ...Connection.options, id: sessionId, json: jsonFlag }, (o) =>
  validId(o.id, (id) =>
    Effect.gen(function*() {
      const result = yield* withClient(o, Effect.gen(function*() {
        const session = yield* (yield* OpenCodeClient.OpenCodeClient).share(id)
        const grant = yield* (yield* ShareGrants.ShareGrants).take(id)
        return { session, grant }
      }))
      const url = result.session.share?.url
      if (!url) {
        return yield* Effect.fail(new Error(`the server shared ${id} without a URL: sharing is disabled on it (OPENCODE_DISABLE_SHARE?)`))
      }
      const grant = Option.getOrUndefined(result.grant)
      const value = { url, ...(grant ? { secret: grant.secret, expiresAt: grant.expiresAt } : {}), session: result.session }
      yield* print(o.json, value, () =>
        grant
          ? `${url}\nsecret  ${grant.secret}  (keep it: it revokes the share)\nexpires ${grant.expiresAt === null ? "never" : localTime(grant.expiresAt)}`
          : url)
    }))).pipe(describe("Share a session and print its URL (and, when the share service is plue's own, its owner secret and expiry)", [
    "plue session share ses_df557fc75ffe8uAWx0P0wTjSPl",
    "plue session share ses_df557fc75ffe8uAWx0P0wTjSPl --json"
  ]))

const unshare = Command.make("unshare", { ...Connection.options, id: sessionId, json: jsonFlag }, (o) =>
  validId(o.id, (id) =>
    Effect.gen(function*() {
      const session = yield* withClient(o, Effect.flatMap(OpenCodeClient.OpenCodeClient, (c) => c.unshare(id)))
      yield* print(o.json, session, () => `unshared ${id}`)
    }))).pipe(describe("Stop sharing a session", ["plue session unshare ses_df557fc75ffe8uAWx0P0wTjSPl"]))

/**
 * `plue session`.
 *
 * @since 0.1.0
 */
export const session = Command.make("session").pipe(
  Command.withDescription("Manage OpenCode sessions"),
  Command.withSubcommands([create, list, get, title, init, remove, abort, share, unshare])
)
