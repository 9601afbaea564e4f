import { OpenCodeServer } from "@plue/core"
import * as OtherClient from "@plue/testing/OtherClient"
import * as Platform from "@plue/testing/Platform"
import * as Proxy from "@plue/testing/Proxy"
import * as Spawn from "@plue/testing/Spawn"
import * as TestServer from "@plue/testing/TestServer"
import * as Wait from "@plue/testing/Wait"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { cliBin, compileLibrary, cSource } from "./support.js"

const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

layer(Live, { timeout: 180_000, excludeTestServices: true })("the outbox from C", (it) => {
  it.scoped(
    "under plue host with PLUE_OUTBOX=1: an offline title change returns 0, its conflict is an event, plue_conflict_resolve settles it",
    () =>
      Effect.gen(function*() {
        const server = yield* OpenCodeServer.OpenCodeServer
        const other = yield* OtherClient.make
        const proxy = yield* Proxy.start(server.url)
        const dir = mkdtempSync(join(tmpdir(), "plue-outbox-c-"))
        const library = compileLibrary(cSource("outbox.c"))
        const host = yield* Spawn.spawn(process.execPath, [cliBin, "host", library, dir], {
          env: {
            OPENCODE_URL: proxy.url,
            OPENCODE_SERVER_PASSWORD: Redacted.value(server.password),
            OPENCODE_HEARTBEAT_TIMEOUT: "2 seconds",
            PLUE_OUTBOX: "1",
            XDG_STATE_HOME: join(dir, "state")
          }
        })
        const idFile = join(dir, "id")
        yield* Wait.until("the C side to write the session id", () => existsSync(idFile) && readFileSync(idFile, "utf8").length >= 30)
        const id = readFileSync(idFile, "utf8")
        proxy.setMode("drop")
        writeFileSync(join(dir, "offline"), "1")
        yield* Wait.until("the C side to queue its title change", () => existsSync(join(dir, "queued")) || !host.running())
        assert.isTrue(existsSync(join(dir, "queued")), host.stderr())
        // Meanwhile another client changes the same word.
        yield* other("PATCH", `/session/${id}`, { title: "alpha bETa gamma" })
        proxy.setMode("pass")
        const result = yield* host.result
        assert.strictEqual(result.code, 0, result.stderr)
        assert.isTrue(existsSync(join(dir, "resolved")))
        const session = yield* other<{ title: string }>("GET", `/session/${id}`)
        assert.strictEqual(session.title, "alpha BETA gamma")
      }),
    180_000
  )
})
