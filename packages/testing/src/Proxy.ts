/**
 * A loopback TCP proxy in front of a real server, that a test can cut: one client goes through it
 * (and can be made offline) while another talks to the server directly.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { createServer, Socket } from "node:net"

/**
 * What the proxy does: `pass` bytes both ways; `drop` refuse every connection (and cut the open
 * ones when set); `swallow` forward requests to the server but never answer them.
 *
 * @since 0.1.0
 */
export type Mode = "pass" | "drop" | "swallow"

/**
 * A running proxy.
 *
 * @since 0.1.0
 */
export interface Proxy {
  readonly url: string
  readonly setMode: (mode: Mode) => void
  /**
   * Once: the answer to the next request whose head matches `pattern` is dropped after the server
   * sent it (the connection is cut instead): the server applied it, the client never heard.
   */
  readonly dropNextAnswer: (pattern: RegExp) => void
  /** How many requests whose head matches `pattern` went through. */
  readonly count: (pattern: RegExp) => number
  /** How many answers to requests whose head matches `pattern` reached the client. */
  readonly answered: (pattern: RegExp) => number
  /**
   * The most requests whose head matches `pattern` that were in flight at once so far: gone
   * through to the server and not yet answered.
   */
  readonly maxInFlight: (pattern: RegExp) => number
  /**
   * Once: the next request whose head matches `pattern` (sent after a request matching `after`
   * went through, when given) is held before it reaches the server, with whatever its connection
   * sends after it, until `release` is called: for a test to act between two requests of a client.
   */
  readonly hold: (pattern: RegExp, options?: { readonly after?: RegExp | undefined }) => Held
}

/**
 * A request held by `hold`.
 *
 * @since 0.1.0
 */
export interface Held {
  /** Whether the request arrived (and is held). */
  readonly arrived: () => boolean
  /** Sends it (and what followed it on its connection) on to the server; releases it also if it has not arrived yet. */
  readonly release: () => void
}

/**
 * Starts a proxy to `target` (`http://host:port`), closed with the scope.
 *
 * @since 0.1.0
 */
export const start = (target: string): Effect.Effect<Proxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ proxy: Proxy; close: () => Promise<void> }>((resume) => {
      const url = new URL(target)
      let mode: Mode = "pass"
      let dropAnswer: RegExp | undefined
      let holding: { pattern: RegExp; after: RegExp | undefined; arrived: boolean; released: boolean; flush: Array<() => void> } | undefined
      const heads: Array<string> = []
      const answers: Array<string> = []
      // Every request going through (+1) and every answer starting back (-1), in order.
      const flow: Array<{ readonly head: string; readonly step: 1 | -1 }> = []
      const sockets = new Set<Socket>()
      const cutAll = () => sockets.forEach((s) => s.destroy())
      const server = createServer((client) => {
        sockets.add(client)
        client.on("close", () => sockets.delete(client))
        client.on("error", () => undefined)
        if (mode === "drop") return client.destroy()
        const upstream = new Socket()
        sockets.add(upstream)
        let armed = false
        let last = ""
        // Set while this connection's data is held back (see `hold`).
        let held: Array<Buffer> | undefined
        upstream.on("error", () => client.destroy())
        upstream.on("close", () => {
          sockets.delete(upstream)
          client.destroy()
        })
        client.on("close", () => upstream.destroy())
        upstream.connect(Number(url.port), url.hostname)
        client.on("data", (chunk: Buffer) => {
          if (held !== undefined) return void held.push(chunk)
          const text = chunk.toString("latin1")
          const head = /^(GET|POST|PATCH|PUT|DELETE) [^\r\n]*/m.exec(text)
          if (head !== null) {
            const hold = holding
            if (hold !== undefined && !hold.arrived && !hold.released) {
              if (hold.after !== undefined && hold.after.test(head[0])) hold.after = undefined
              else if (hold.after === undefined && hold.pattern.test(head[0])) {
                hold.arrived = true
                const buffer = [chunk]
                held = buffer
                hold.flush.push(() => {
                  held = undefined
                  heads.push(head[0])
                  flow.push({ head: head[0], step: 1 })
                  last = head[0]
                  for (const part of buffer) upstream.write(part)
                })
                return
              }
            }
            heads.push(head[0])
            flow.push({ head: head[0], step: 1 })
            last = head[0]
            if (dropAnswer !== undefined && dropAnswer.test(head[0])) {
              dropAnswer = undefined
              armed = true
            }
          }
          upstream.write(chunk)
        })
        upstream.on("data", (chunk: Buffer) => {
          if (armed) {
            client.destroy()
            upstream.destroy()
            return
          }
          if (mode === "swallow") return
          if (/^HTTP\/1\.1 /.test(chunk.toString("latin1", 0, 9))) {
            answers.push(last)
            flow.push({ head: last, step: -1 })
          }
          client.write(chunk)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as { port: number }).port
        resume(Effect.succeed({
          proxy: {
            url: `http://127.0.0.1:${port}`,
            setMode: (next) => {
              mode = next
              if (next !== "pass") cutAll()
            },
            dropNextAnswer: (pattern) => void (dropAnswer = pattern),
            count: (pattern) => heads.filter((h) => pattern.test(h)).length,
            answered: (pattern) => answers.filter((h) => pattern.test(h)).length,
            maxInFlight: (pattern) => {
              let now = 0
              let most = 0
              for (const { head, step } of flow) {
                if (!pattern.test(head)) continue
                now += step
                most = Math.max(most, now)
              }
              return most
            },
            hold: (pattern, options = {}) => {
              const hold = { pattern, after: options.after, arrived: false, released: false, flush: [] as Array<() => void> }
              holding = hold
              return {
                arrived: () => hold.arrived,
                release: () => {
                  hold.released = true
                  if (holding === hold) holding = undefined
                  for (const go of hold.flush.splice(0)) go()
                }
              }
            }
          },
          close: () =>
            new Promise<void>((done) => {
              cutAll()
              server.close(() => done())
            })
        }))
      })
    }),
    ({ close }) => Effect.promise(close)
  ).pipe(Effect.map(({ proxy }) => proxy))
