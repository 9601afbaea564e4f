// What a user gets from npm: every published workspace package is packed with `npm pack`, the
// tarballs are installed into an empty project with the README's own install commands (nothing
// else from the workspace), and there the README's Effect sample, `npx plue` and the README's C
// example run against a real OpenCode server.
import { OpenCodeServer } from "@plue/core"
import * as Platform from "@plue/testing/Platform"
import * as Spawn from "@plue/testing/Spawn"
import * as TestServer from "@plue/testing/TestServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = fileURLToPath(new URL("../../..", import.meta.url))
const README = readFileSync(join(ROOT, "README.md"), "utf8")
const Live = TestServer.layer().pipe(Layer.provideMerge(Platform.layer))

type Run = Spawn.Result

/**
 * The environment of a nested npm: the caller's, without the `npm_*` variables an outer `npm test`
 * sets (they would point the nested npm at the workspace), but with its cache, so a repeat run
 * installs from the cache.
 */
const cleanEnv = (extra: Record<string, string> = {}): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^npm_/i.test(k) && !/^OPENCODE_|^PLUE_/.test(k)) env[k] = v
  }
  if (process.env.npm_config_cache) env.npm_config_cache = process.env.npm_config_cache
  return { ...env, NO_COLOR: "1", npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false", ...extra }
}

/** Runs a shell command line in a process group of its own, ended with the test's scope if the test ends first. */
const sh = (line: string, cwd: string, env: Record<string, string> = cleanEnv()) => Spawn.run("sh", ["-c", line], { cwd, env })

const ok = (run: Run, what: string) => assert.strictEqual(run.code, 0, `${what}\n${run.stdout}\n${run.stderr}`)

/** The fenced code blocks under a README heading. */
const blocks = (heading: string, lang: string): Array<string> => {
  const at = README.indexOf(`\n## ${heading}\n`)
  assert.isAtLeast(at, 0, `README has no "## ${heading}"`)
  const section = README.slice(at + 1).split(/\n## /)[0]!
  return [...section.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!)
}

interface Packed {
  readonly name: string
  readonly filename: string
  readonly size: number
  readonly unpackedSize: number
  readonly files: ReadonlyArray<{ readonly path: string; readonly mode: number }>
}

/** The workspace packages that are published (not `private`), by name, with their manifests. */
const published = (): Map<string, { dir: string; manifest: Record<string, any> }> => {
  const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { workspaces: Array<string> }
  const out = new Map<string, { dir: string; manifest: Record<string, any> }>()
  for (const dir of root.workspaces) {
    const manifest = JSON.parse(readFileSync(join(ROOT, dir, "package.json"), "utf8"))
    if (manifest.private !== true) out.set(manifest.name, { dir, manifest })
  }
  return out
}

layer(Live, { timeout: 600_000, excludeTestServices: true })("a consumer installing the npm tarballs", (it) => {
  it.effect("packs every published package and runs the README's samples in an empty project", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const server = yield* OpenCodeServer.OpenCodeServer
      const work = mkdtempSync(join(tmpdir(), "plue-consumer-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(work, { recursive: true, force: true })))
      const tarballs = join(work, "tarballs")
      const project = join(work, "project")
      mkdirSync(tarballs)
      mkdirSync(project)

      // 1. Pack. Each package ships its build, README, LICENSE and manifest, nothing of tests or configs.
      const packages = published()
      assert.includeMembers([...packages.keys()], ["@plue/core", "@plue/ffi", "@plue/cli"])
      const packing = yield* sh(
        `npm pack --json --pack-destination ${tarballs} ${[...packages.keys()].map((n) => `-w ${n}`).join(" ")}`,
        ROOT
      )
      ok(packing, "npm pack")
      const packed = JSON.parse(packing.stdout) as Array<Packed>
      const tarball = new Map(packed.map((p) => [p.name, join(tarballs, p.filename)]))
      for (const p of packed) {
        const { manifest } = packages.get(p.name)!
        const paths = p.files.map((f) => f.path)
        for (const path of paths) {
          assert.match(
            path,
            /^(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts)|dist\/plue\.cjs|dist\/THIRD-PARTY-LICENSES\.txt|include\/plue\.h|bin\/plue\.js)$/,
            `${p.name} ships ${path}`
          )
          assert.notMatch(path, /(^|\/)(test|tests|bench)\/|tsconfig|vitest|\.tsbuildinfo/, `${p.name} ships ${path}`)
        }
        assert.includeMembers(paths, ["package.json", "README.md", "LICENSE"], p.name)
        assert.isTrue(paths.some((path) => path.startsWith("dist/")), `${p.name} ships no dist/`)
        assert.strictEqual(manifest.license, "MIT")
        assert.isString(manifest.engines?.node, `${p.name} engines`)
        assert.isString(manifest.repository?.url, `${p.name} repository`)
        assert.isArray(manifest.files, `${p.name} files`)
        if (manifest.bin === undefined) assert.strictEqual(manifest.exports?.["./internal/*"], null, `${p.name} exports`)
        for (const bin of Object.values<string>(manifest.bin ?? {})) {
          const file = p.files.find((f) => f.path === bin.replace(/^\.\//, ""))
          assert.isDefined(file, `${p.name} bin ${bin} is not shipped`)
          assert.strictEqual(file!.mode & 0o111, 0o111, `${p.name} bin ${bin} is not executable`)
        }
        process.stdout.write(`consumer: ${p.filename}: ${p.size} bytes packed, ${p.unpackedSize} unpacked, ${p.files.length} files\n`)
      }

      // 2. Install with the README's commands, the @plue/* packages from the tarballs.
      writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2))
      const installs = blocks("Install", "sh").flatMap((b) => b.trim().split("\n"))
      // core, cli + ffi, share, and last the managed server's binary, which is left out on purpose:
      // connecting to a server must not need it.
      assert.lengthOf(installs, 4, installs.join("\n"))
      assert.strictEqual(installs.at(-1), "npm install opencode-ai@1.18.33")
      for (const line of installs.slice(0, -1)) {
        assert.match(line, /^npm install /)
        const args = line.split(/\s+/).slice(2).map((arg) => {
          if (!arg.startsWith("@plue/")) return arg
          assert.isTrue(tarball.has(arg), `README installs ${arg}, which is not a published workspace package`)
          return tarball.get(arg)!
        })
        const installed = yield* sh(`npm install --prefer-offline --no-audit --no-fund ${args.join(" ")}`, project)
        ok(installed, line)
      }
      assert.isFalse(existsSync(join(project, "node_modules", "opencode-ai")))
      const installedAt = Date.now()

      const env = cleanEnv({ OPENCODE_URL: server.url, OPENCODE_SERVER_PASSWORD: Redacted.value(server.password) })

      // 3. The README's Effect sample, against the test server.
      const [sample] = blocks("Use it from Effect", "js")
      writeFileSync(join(project, "main.mjs"), sample!)
      const [runs] = blocks("Use it from Effect", "sh")
      const [runSample, listSessions] = runs!.trim().split("\n")
      assert.strictEqual(runSample, "node main.mjs")
      const ran = yield* sh(runSample!, project, env)
      ok(ran, "the Effect sample")
      const logged = /(ses_\w+): (\d+) sessions/.exec(ran.stdout + ran.stderr)
      assert.isNotNull(logged, ran.stdout + ran.stderr)
      const sessionId = logged![1]!

      // The share service installed as a library loads on its own (no workspace around it).
      const share = yield* sh(
        `node --input-type=module -e 'const m = await import("@plue/share"); console.log(typeof m.ShareService.layerEmbedded, typeof m.ShareStore.layerFile)'`,
        project,
        env
      )
      ok(share, "import @plue/share")
      assert.strictEqual(share.stdout.trim(), "function function")

      // 4. The CLI from the tarball.
      // (`npx --no plue --version` would print npm's own version: npx takes flags after its own.)
      const version = yield* sh("npx plue --version", project, env)
      ok(version, "plue --version")
      assert.strictEqual(version.stdout.trim(), packages.get("@plue/cli")!.manifest.version)
      assert.strictEqual(listSessions, "npx plue session list")
      const listed = yield* sh(`${listSessions} --json`, project, env)
      ok(listed, "plue session list")
      assert.isTrue((JSON.parse(listed.stdout) as Array<{ id: string; title: string }>).some((s) => s.id === sessionId && s.title === "hello"))

      // Without opencode-ai, asking for a managed server fails at once, naming the install command.
      const noServer = yield* sh(
        "npx plue session list",
        project,
        cleanEnv({
          PATH: `${join(project, "node_modules", ".bin")}:/usr/bin:/bin`,
          PLUE_SHARE_DIR: join(work, "shares")
        })
      )
      assert.strictEqual(noServer.code, 5, noServer.stderr)
      assert.include(noServer.stderr, "npm install opencode-ai@1.18.33")

      // 5. The README's C examples, built against the installed header: a program with its own
      // main() (plue_init starts the installed plue as its sidecar), and a plugin run by `plue host`.
      const [appSource, hostSource] = blocks("Use it from C", "c")
      const [appRun, hostRun] = blocks("Use it from C", "sh")
      const sessionOf = (stdout: string) => (JSON.parse(stdout.trim()) as { id: string }).id
      writeFileSync(join(project, "app.c"), appSource!)
      const [appCompile, appStart] = appRun!.trim().split("\n")
      assert.include(appCompile, "-I node_modules/@plue/ffi/include")
      ok(yield* sh(appCompile!, project, env), appCompile!)
      const app = yield* sh(appStart!, project, env)
      ok(app, appStart!)
      assert.match(sessionOf(app.stdout), /^ses_/)

      writeFileSync(join(project, "host.c"), hostSource!)
      const [compile, host] = hostRun!.trim().split("\n")
      assert.include(compile, "-I node_modules/@plue/ffi/include")
      ok(yield* sh(compile!, project, env), compile!)
      const hosted = yield* sh(host!, project, env)
      ok(hosted, host!)
      assert.match(sessionOf(hosted.stdout), /^ses_/)

      // 6. The newer features from the installed packages: plue_bulk (and its misuse) from a C
      // program finding `plue` on PATH, and a batch selection with --dry-run.
      const bulkApp = join(project, "bulk-app")
      ok(
        yield* sh(
          `cc -std=c11 -I node_modules/@plue/ffi/include -o ${bulkApp} ${fileURLToPath(new URL("../../ffi/test/c/audit2.c", import.meta.url))} -lpthread`,
          project,
          env
        ),
        "cc audit2.c"
      )
      const bulk = yield* sh(bulkApp, project, { ...env, PATH: `${join(project, "node_modules", ".bin")}:${env.PATH ?? "/usr/bin:/bin"}` })
      ok(bulk, "plue_bulk from C")
      assert.match(bulk.stdout, /^done: 0 failure\(s\)$/m, bulk.stdout)
      const dry = yield* sh(`npx plue session delete --title-matching hello --dry-run`, project, env)
      ok(dry, "plue session delete --dry-run")
      assert.include(dry.stdout, `would delete ${sessionId}  hello`)
      assert.match(dry.stdout, /would delete \d+ sessions? \(dry run: nothing was deleted\)\n$/)

      process.stdout.write(
        `consumer: pack and install ${((installedAt - started) / 1000).toFixed(1)} s, ` +
          `whole test ${((Date.now() - started) / 1000).toFixed(1)} s\n`
      )
    }).pipe(Effect.scoped), 600_000)
})
