/**
 * `plue share-server`: serves plue's OpenCode share service until Ctrl-C.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { NodeHttpServer } from "@effect/platform-node"
import { ShareService, ShareStore } from "@plue/share"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { createServer } from "node:http"
import * as Connection from "../Connection.js"

/** The URL with its password hidden, for logs. */
const redactUrl = (raw: string): string => {
  try {
    const url = new URL(raw)
    if (url.password) url.password = "***"
    return url.toString()
  } catch {
    return "(unparsable URL)"
  }
}

/**
 * @since 0.1.0
 */
export const shareServer = Command.make("share-server", {
  port: Options.integer("port").pipe(Options.withDescription("Port to listen on"), Options.withDefault(4500)),
  host: Options.text("host").pipe(Options.withDescription("Address to listen on"), Options.withDefault("127.0.0.1")),
  publicUrl: Options.text("public-url").pipe(
    Options.withDescription("Base of share URLs as people reach them (default: http://HOST:PORT)"),
    Options.optional
  ),
  data: Options.directory("data").pipe(Options.withDescription("Where shares are stored (default: $XDG_DATA_HOME/plue/shares)"), Options.optional),
  store: Options.text("store").pipe(
    Options.withDescription(
      "A PostgreSQL database for the shares, postgres://USER:PASSWORD@HOST:PORT/DB (default: PLUE_SHARE_STORE, else files in --data);\n" +
        "any number of share servers on one database serve the same shares"
    ),
    Options.withFallbackConfig(Config.string("PLUE_SHARE_STORE")),
    Options.optional
  ),
  ttl: Options.text("ttl").pipe(
    Options.withDescription("How long a share lives: a duration like \"24 hours\", or \"never\""),
    Options.withDefault("24 hours")
  )
}, (o) =>
  Effect.gen(function*() {
    const ttl = o.ttl === "never" ? "never" as const : Duration.decodeUnknown(o.ttl)
    if (ttl !== "never" && Option.isNone(ttl)) return yield* Effect.fail(new Error(`--ttl: not a duration: ${o.ttl}`))
    const directory = Option.getOrElse(o.data, Connection.shareDirectory)
    const publicUrl = Option.getOrElse(o.publicUrl, () => `http://${o.host}:${o.port}`)
    const database = Option.getOrUndefined(o.store)
    if (database !== undefined && !/^postgres(ql)?:\/\//.test(database)) {
      return yield* Effect.fail(new Error(`--store: expected a postgres:// URL, got ${database.split(":")[0]}:...`))
    }
    // The PostgreSQL store (and its driver) is loaded only when asked for.
    const store: Layer.Layer<ShareStore.ShareStore, Error, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =
      database === undefined
        ? ShareStore.layerFile(directory).pipe(Layer.mapError((e) => new Error(`--data: ${e.message}`)))
        : Layer.unwrapEffect(Effect.promise(() => import("@plue/share/ShareStorePg")).pipe(
          Effect.map((ShareStorePg) =>
            ShareStorePg.layer({ url: database }).pipe(
              Layer.mapError((e) => new Error(`--store: cannot use the database at ${redactUrl(database)}: ${e.message}`))
            )
          )
        ))
    const where = database === undefined ? `data in ${directory}` : `shares in PostgreSQL at ${redactUrl(database)}`
    const served = Layer.scopedDiscard(Effect.gen(function*() {
      const url = yield* ShareService.serve
      process.stderr.write(`plue share-server: listening on ${url}, share URLs under ${publicUrl}/share/, ${where}\n`)
      process.stderr.write(`point OpenCode at it with: OPENCODE_CONFIG_CONTENT='{"enterprise":{"url":"${publicUrl}"}}'\n`)
    })).pipe(
      Layer.provide(ShareService.layer({ publicUrl, ttl: ttl === "never" ? "never" : Option.getOrThrow(ttl) })),
      Layer.provide(store),
      Layer.provide(NodeHttpServer.layer(createServer, { port: o.port, host: o.host }))
    )
    return yield* Layer.launch(served)
  })).pipe(
    Command.withDescription(
      "Serve plue's OpenCode share service (the routes OpenCode calls at its enterprise.url, and a viewer\n" +
        "at each share URL) until Ctrl-C.\n\nExamples:\n  plue share-server --port 4500 --public-url https://share.example.com --data /var/lib/plue-shares\n" +
        "  plue share-server --host 0.0.0.0 --public-url https://share.example.com --store postgres://plue@db.internal/plue"
    )
  )
