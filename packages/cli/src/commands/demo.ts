/**
 * `plue demo`: shows the bridge working end to end, one step a line.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as HttpClient from "@effect/platform/HttpClient"
import * as OpenCodeClient from "@plue/core/OpenCodeClient"
import * as ShareGrants from "@plue/core/ShareGrants"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Connection from "../Connection.js"

/**
 * @since 0.1.0
 */
export const demo = Command.make("demo", Connection.options, (connection) =>
  Effect.gen(function*() {
    const client = yield* OpenCodeClient.OpenCodeClient
    const step = (text: string) => Console.log(`  ${text}`)
    const health = yield* client.health
    yield* step(`connected to OpenCode ${health.version}`)
    const session = yield* client.create({ title: "plue demo" })
    yield* step(`created   ${session.id}  "${session.title}"`)
    const child = yield* client.create({ parentID: session.id, title: "plue demo child" })
    yield* step(`created   ${child.id}  "${child.title}" (child)`)
    const renamed = yield* client.update(session.id, { title: "plue demo, renamed ✓" })
    yield* step(`titled    ${renamed.id}  "${renamed.title}"`)
    const all = yield* client.list()
    yield* step(`listed    ${all.length} session(s), ours among them: ${all.some((s) => s.id === session.id)}`)
    yield* Effect.ensuring(
      Effect.gen(function*() {
        const shared = yield* Effect.either(client.share(session.id))
        if (shared._tag === "Left") return yield* step(`share     not available here: ${shared.left.message}`)
        const url = shared.right.share?.url ?? ""
        // The owner secret, when the share service is plue's own: taken, so it is not kept.
        const grant = yield* (yield* ShareGrants.ShareGrants).take(session.id)
        yield* step(`shared    ${url}${grant._tag === "Some" ? " (owner secret received)" : ""}`)
        const http = yield* HttpClient.HttpClient
        const open = http.get(url).pipe(
          Effect.flatMap((response) => Effect.map(response.text, (text) => ({ status: response.status, text }))),
          Effect.scoped,
          Effect.orElseSucceed(() => ({ status: 0, text: "" }))
        )
        // OpenCode syncs the session to the share service just after sharing it.
        let page = yield* open
        for (let i = 0; i < 30 && page.status === 200 && !page.text.includes("plue demo, renamed"); i++) {
          yield* Effect.sleep("100 millis")
          page = yield* open
        }
        yield* step(`viewer    HTTP ${page.status}${page.text.includes("plue demo, renamed") ? ", shows the title" : ""}`)
      }),
      Effect.gen(function*() {
        yield* client.delete(session.id)
        const gone = yield* Effect.either(client.get(child.id))
        yield* step(`deleted   ${session.id} and its child (child now: ${gone._tag === "Left" ? gone.left._tag : "still there!"})`)
      }).pipe(Effect.orDie)
    )
  }).pipe(Effect.provide(Connection.layer(connection)))).pipe(
    Command.withDescription("Create, title, list, share and delete a session, printing each step")
  )
