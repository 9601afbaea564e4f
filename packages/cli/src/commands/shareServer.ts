/**
 * `plue share-server`: serves plue's OpenCode share service until Ctrl-C.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as ShareStoreModule from "@plue/share/ShareStore"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { createServer } from "node:http"
import * as Connection from "../Connection.js"
import { ShareStoreUnavailable, UsageError } from "../Errors.js"

/** `never`, or a duration such as `24 hours` or `30 minutes`. */
const Ttl = Schema.String.pipe(
  Schema.filter((text) => text === "never" || Option.isSome(Duration.decodeUnknown(text)), {
    message: (issue) => `--ttl: '${String(issue.actual)}' is not a duration; write it like --ttl "24 hours", --ttl "30 minutes" or --ttl never`
  })
)

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
  port: Options.integer("port").pipe(Options.withDescription("Port to listen on (0: any free one)"), Options.withDefault(4500)),
  host: Options.text("host").pipe(Options.withDescription("Address to listen on"), Options.withDefault("127.0.0.1")),
  publicUrl: Options.text("public-url").pipe(
    Options.withDescription("Base of share URLs as people reach them (default: the listening address)"),
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
    Options.withDefault("24 hours"),
    Options.withSchema(Ttl)
  )
}, (o) =>
  Effect.gen(function*() {
    // Loaded here, not at start-up: the share service and its HTTP server are this command's alone.
    const { ShareService, ShareStore } = yield* Effect.promise(() => import("@plue/share"))
    const NodeHttpServer = yield* Effect.promise(() => import("@effect/platform-node/NodeHttpServer"))
    const HttpServer = yield* Effect.promise(() => import("@effect/platform/HttpServer"))
    const directory = yield* Option.match(o.data, { onNone: () => Connection.shareDirectory, onSome: Effect.succeed })
    const database = Option.getOrUndefined(o.store)
    if (database !== undefined && !/^postgres(ql)?:\/\//.test(database)) {
      return yield* new UsageError({
        message: `--store: expected a postgres:// URL, got ${database.split(":")[0]}:...; write it like --store postgres://USER:PASSWORD@HOST:5432/DB`
      })
    }
    // The PostgreSQL store (and its driver) is loaded only when asked for.
    const store: Layer.Layer<
      ShareStoreModule.ShareStore,
      UsageError | ShareStoreUnavailable,
      FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor
    > = database === undefined
      ? ShareStore.layerFile(directory).pipe(
        Layer.mapError((e) => new UsageError({ message: `--data: cannot use ${directory}: ${e.message}` }))
      )
      : Layer.unwrapEffect(
        Effect.promise(() => import("@plue/share/ShareStorePg")).pipe(
          Effect.map((ShareStorePg) =>
            ShareStorePg.layer({ url: database }).pipe(
              Layer.mapError((e) => new ShareStoreUnavailable({ message: `--store: cannot use the database at ${redactUrl(database)}: ${e.message}` }))
            )
          )
        )
      )
    const where = database === undefined ? `data in ${directory}` : `shares in PostgreSQL at ${redactUrl(database)}`
    const ttl = o.ttl === "never" ? "never" as const : Duration.decode(o.ttl as Duration.DurationInput)
    // The address is known once the server listens (`--port 0` picks one): share URLs use it.
    const served = Layer.unwrapScoped(Effect.gen(function*() {
      const address = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address))
      const publicUrl = Option.getOrElse(o.publicUrl, () => address)
      return Layer.scopedDiscard(Effect.gen(function*() {
        const url = yield* ShareService.serve
        process.stderr.write(`plue share-server: listening on ${url}, share URLs under ${publicUrl}/share/, ${where}\n`)
        process.stderr.write(`point OpenCode at it with: OPENCODE_CONFIG_CONTENT='{"enterprise":{"url":"${publicUrl}"}}'\n`)
      })).pipe(Layer.provide(ShareService.layer({ publicUrl, ttl })), Layer.provide(store))
    })).pipe(Layer.provide(NodeHttpServer.layer(createServer, { port: o.port, host: o.host })))
    return yield* Layer.launch(served)
  })).pipe(Command.withDescription("Serve plue's OpenCode share service until Ctrl-C"))
