/**
 * `plue share-server`: serves plue's OpenCode share service until Ctrl-C.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { NodeHttpServer } from "@effect/platform-node"
import { ShareService } from "@plue/share"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { createServer } from "node:http"
import * as Connection from "../Connection.js"

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
    const served = Layer.scopedDiscard(Effect.gen(function*() {
      const url = yield* ShareService.serve
      process.stderr.write(`plue share-server: listening on ${url}, share URLs under ${publicUrl}/share/, data in ${directory}\n`)
      process.stderr.write(`point OpenCode at it with: OPENCODE_CONFIG_CONTENT='{"enterprise":{"url":"${publicUrl}"}}'\n`)
    })).pipe(
      Layer.provide(ShareService.layerFile(directory, { publicUrl, ttl: ttl === "never" ? "never" : Option.getOrThrow(ttl) })),
      Layer.provide(NodeHttpServer.layer(createServer, { port: o.port, host: o.host }))
    )
    return yield* Layer.launch(served)
  })).pipe(
    Command.withDescription(
      "Serve plue's OpenCode share service (the routes OpenCode calls at its enterprise.url, and a viewer\n" +
        "at each share URL) until Ctrl-C.\n\nExamples:\n  plue share-server --port 4500 --public-url https://share.example.com --data /var/lib/plue-shares"
    )
  )
