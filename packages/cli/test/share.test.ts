import { NodeContext, NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { OpenCodeClient, OpenCodeServer } from "@plue/core"
import { ShareService, ShareStore } from "@plue/share"
import { childEnv } from "@plue/testing/ChildEnv"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "@plue/testing/Net"

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const INCLUDE = fileURLToPath(new URL("../../ffi/include", import.meta.url))
const Platform = Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)

// The test's own server shares through a share service in this process (for `watch`); the
// commands run with no --url start their own managed server in the same sandbox.
const Live = TestServer.layer().pipe(
  Layer.provideMerge(
    ShareService.layerEmbedded().pipe(
      Layer.provide(ShareStore.layerMemory),
      Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
    )
  ),
  Layer.provideMerge(Platform)
)

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Starts the built CLI; the test's scope kills it if it is still running. */
const start = (args: ReadonlyArray<string>, env: Record<string, string>, cwd?: string) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      spawn(process.execPath, [BIN, ...args], {
        cwd: cwd ?? process.cwd(),
        env: childEnv(env),
        stdio: ["ignore", "pipe", "pipe"]
      })
    ),
    (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

const finish = (child: ChildProcess): Promise<Run> =>
  new Promise((resolve) => {
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (d) => (stdout += d))
    child.stderr!.on("data", (d) => (stderr += d))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const run = (args: ReadonlyArray<string>, env: Record<string, string>, cwd?: string) =>
  Effect.flatMap(start(args, env, cwd), (child) => Effect.promise(() => finish(child)))

const waitFor = (child: ChildProcess, stream: "stdout" | "stderr", pattern: RegExp) =>
  new Promise<string>((resolve, reject) => {
    let seen = ""
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in ${stream}: ${seen}`)), 60_000)
    child[stream]!.on("data", (d) => {
      seen += d
      const match = pattern.exec(seen)
      if (match) {
        clearTimeout(timer)
        resolve(match[0])
      }
    })
  })

/** The sandbox's environment: a command with no --url starts a managed server in it. */
const managed = Effect.map(TestServer.TestSandbox, (box) => ({ env: { ...box.env }, cwd: box.project, box }))

const call = (url: string, method = "GET", body?: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method,
      headers: { "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
    return { status: response.status, text: await response.text() }
  })

layer(Live, { timeout: 240_000, excludeTestServices: true })("sharing from the CLI and from a C host", (it) => {
  it.scoped("plue session share, with the managed server: prints the URL, the owner secret and the expiry", () =>
    Effect.gen(function*() {
      const { env, cwd, box } = yield* managed
      const created = yield* run(["session", "create", "--title", "cli share", "--json"], env, cwd)
      assert.strictEqual(created.code, 0, created.stderr)
      const id = (JSON.parse(created.stdout) as { id: string }).id
      const before = Date.now()
      const shared = yield* run(["session", "share", id, "--json"], env, cwd)
      assert.strictEqual(shared.code, 0, shared.stderr)
      const value = JSON.parse(shared.stdout) as {
        url: string
        secret?: string
        expiresAt?: number
        diesWithCommand?: boolean
        session: { id: string }
      }
      assert.strictEqual(value.diesWithCommand, true, "the command's own share service goes with it")
      assert.match(value.url, /^http:\/\/127\.0\.0\.1:\d+\/share\/[A-Za-z0-9_-]{22}$/)
      assert.isString(value.secret)
      assert.isAtLeast(Buffer.from(value.secret!, "base64url").length, 32)
      assert.approximately(value.expiresAt! - before, 24 * 3600 * 1000, 120_000)
      assert.strictEqual(value.session.id, id)
      // The embedded service kept the share in the default directory, under XDG_DATA_HOME.
      const shareId = value.url.split("/").pop()!
      assert.include(readdirSync(join(box.env.XDG_DATA_HOME!, "plue", "shares")), `share-${shareId}`)

      const other = yield* run(["session", "create", "--json"], env, cwd)
      const otherId = (JSON.parse(other.stdout) as { id: string }).id
      const text = yield* run(["session", "share", otherId], env, cwd)
      assert.strictEqual(text.code, 0, text.stderr)
      // The share service runs inside the command (managed server): the URL's line says so.
      assert.match(
        text.stdout,
        /^http:\/\/127\.0\.0\.1:\d+\/share\/\S+ {2}\(served by this command: the link stops working when it exits; [^\n]*\)\nsecret {2}\S{43} {2}\(keep it: it revokes the share\)\nexpires /
      )
    }), 240_000)

  it.scoped(
    "plue host: a C host's plue_session_create_share gets the secret and expiresAt; its callback sees Shared and Unshared",
    () =>
      Effect.gen(function*() {
        const { env, cwd } = yield* managed
        const dir = mkdtempSync(join(tmpdir(), "plue-share-host-"))
        const library = join(dir, "libsharehost.so")
        execFileSync("cc", [
          "-std=c11",
          "-Wall",
          "-Wextra",
          "-Werror",
          "-pedantic",
          "-fPIC",
          "-shared",
          `-I${INCLUDE}`,
          "-o",
          library,
          fileURLToPath(new URL("./c/share_host.c", import.meta.url)),
          "-lpthread"
        ], { stdio: "pipe" })
        const report = join(dir, "report.txt")
        const result = yield* run(["host", library, report], env, cwd)
        assert.strictEqual(result.code, 0, result.stderr)
        const lines = readFileSync(report, "utf8")
        assert.notInclude(lines, "ERROR", lines)
        const share = JSON.parse(/^SHARE (.*)$/m.exec(lines)![1]!) as { url: string; secret?: string; expiresAt?: number | null }
        assert.match(share.url, /\/share\/[A-Za-z0-9_-]{22}$/)
        assert.isString(share.secret, "the secret reaches the C host")
        assert.isNumber(share.expiresAt, "and the expiry")
        const events = /^EVENTS shared=(\d+) unshared=(\d+)$/m.exec(lines)!
        assert.isAtLeast(Number(events[1]), 1, "a Shared event reached the C callback")
        assert.isAtLeast(Number(events[2]), 1, "an Unshared event reached the C callback")
      }),
    180_000
  )

  it.scoped("plue demo: shares through the embedded service, takes the owner secret, opens the viewer", () =>
    Effect.gen(function*() {
      const { env, cwd } = yield* managed
      const result = yield* run(["demo"], env, cwd)
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(result.stdout, /shared {4}http:\/\/127\.0\.0\.1:\d+\/share\/\S+ \(owner secret received\)/)
      assert.include(result.stdout, "viewer    HTTP 200, shows the title")
    }), 180_000)

  it.scoped("plue watch --json prints Shared and Unshared", () =>
    Effect.gen(function*() {
      const server = yield* OpenCodeServer.OpenCodeServer
      const client = yield* OpenCodeClient.OpenCodeClient
      const session = yield* client.create({ title: "watched share" })
      const child = yield* start(["watch", "--json"], {
        OPENCODE_URL: server.url,
        OPENCODE_SERVER_PASSWORD: Redacted.value(server.password)
      })
      const output = finish(child)
      yield* Effect.promise(() => waitFor(child, "stderr", /connected/))
      const lines = waitFor(child, "stdout", new RegExp(`"_tag":"Unshared"[^\\n]*${session.id}[^\\n]*\\n|${session.id}[^\\n]*"_tag":"Unshared"[^\\n]*\\n`))
      const url = (yield* client.share(session.id)).share!.url
      yield* client.unshare(session.id)
      yield* Effect.promise(() => lines)
      child.kill("SIGINT")
      const out = yield* Effect.promise(() => output)
      const events = out.stdout.trim().split("\n").map((l) => JSON.parse(l) as { _tag: string; url?: string; session?: { id: string } })
        .filter((e) => e.session?.id === session.id)
      const shared = events.find((e) => e._tag === "Shared")
      assert.strictEqual(shared?.url, url)
      assert.isTrue(events.findIndex((e) => e._tag === "Shared") < events.findIndex((e) => e._tag === "Unshared"))
    }))

  it.scoped("plue share-server: --port, --host, --public-url, --data, --ttl and --store each do what they say", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const data = mkdtempSync(join(tmpdir(), "plue-share-data-"))
      const child = yield* start([
        "share-server",
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
        "--public-url",
        "https://share.example.test/",
        "--data",
        data,
        "--ttl",
        "3 seconds"
      ], { HOME: mkdtempSync(join(tmpdir(), "plue-home-")) })
      const listening = yield* Effect.promise(() => waitFor(child, "stderr", /listening on \S+/))
      assert.include(listening, `127.0.0.1:${port}`)
      const base = `http://127.0.0.1:${port}`
      const created = yield* call(`${base}/api/share`, "POST", { sessionID: "ses_sharecli" })
      assert.strictEqual(created.status, 200)
      const { id, url } = JSON.parse(created.text) as { id: string; url: string }
      assert.strictEqual(url, `https://share.example.test/share/${id}`, "--public-url is the base of share URLs")
      assert.isTrue(existsSync(join(data, `share-${id}`)), "--data holds the share")
      const stored = JSON.parse(readFileSync(join(data, `share-${id}`), "utf8")) as { createdAt: number; expiresAt: number }
      assert.strictEqual(stored.expiresAt - stored.createdAt, 3000, "--ttl sets the expiry")
      assert.strictEqual((yield* call(`${base}/share/${id}`)).status, 200)
      let status = 200
      for (let i = 0; i < 100 && status === 200; i++) {
        yield* Effect.sleep("100 millis")
        status = (yield* call(`${base}/share/${id}`)).status
      }
      assert.strictEqual(status, 404, "expired after --ttl")
      assert.strictEqual((yield* call(`${base}/healthz`)).status, 200)
      assert.strictEqual((yield* call(`${base}/readyz`)).status, 200)
      child.kill("SIGINT")
      const done = yield* Effect.promise(() => finish(child))
      assert.strictEqual(done.code, 130, done.stderr)

      // --ttl never: no expiry; --data defaults to $XDG_DATA_HOME/plue/shares; --host elsewhere.
      const xdg = mkdtempSync(join(tmpdir(), "plue-xdg-"))
      const port2 = yield* freePort
      const second = yield* start(["share-server", "--port", String(port2), "--host", "127.0.0.2", "--ttl", "never"], {
        HOME: mkdtempSync(join(tmpdir(), "plue-home-")),
        XDG_DATA_HOME: xdg
      })
      yield* Effect.promise(() => waitFor(second, "stderr", /listening on \S+/))
      const made = yield* call(`http://127.0.0.2:${port2}/api/share`, "POST", { sessionID: "ses_sharenever" })
      const never = JSON.parse(made.text) as { id: string; url: string }
      assert.strictEqual(never.url, `http://127.0.0.2:${port2}/share/${never.id}`, "default public URL: http://HOST:PORT")
      const kept = JSON.parse(readFileSync(join(xdg, "plue", "shares", `share-${never.id}`), "utf8")) as { expiresAt: number | null }
      assert.isNull(kept.expiresAt)
      const refused = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port2}/healthz`).then(() => "answered", () => "refused"))
      assert.strictEqual(refused, "refused", "--host 127.0.0.2 listens there only")
      second.kill("SIGINT")
      yield* Effect.promise(() => finish(second))

      const bad = yield* run(["share-server", "--ttl", "soon"], { HOME: mkdtempSync(join(tmpdir(), "plue-home-")) })
      assert.strictEqual(bad.code, 2, bad.stderr)
      assert.include(bad.stderr, "--ttl")
      // --store takes a PostgreSQL URL only (the replicas test runs it against a real database).
      const wrongStore = yield* run(["share-server", "--store", "mysql://db/x"], { HOME: mkdtempSync(join(tmpdir(), "plue-home-")) })
      assert.strictEqual(wrongStore.code, 2, wrongStore.stderr)
      assert.include(wrongStore.stderr, "--store")
      const unreachable = yield* run(["share-server", "--port", String(yield* freePort), "--store", `postgres://nobody@127.0.0.1:${yield* freePort}/x`], {
        HOME: mkdtempSync(join(tmpdir(), "plue-home-"))
      })
      assert.strictEqual(unreachable.code, 5, unreachable.stderr)
      assert.include(unreachable.stderr, "--store: cannot use the database at postgres://nobody@127.0.0.1:")
    }), 180_000)
})
