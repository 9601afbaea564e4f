/**
 * A loopback HTTP server under a test's control, for what the real OpenCode server cannot show
 * on demand (a given status and body, silence, bad frames, a closed port), and an OpenCode client
 * pointed at it. Both live as long as the test's scope.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as OpenCodeClient from "@plue/core/OpenCodeClient"
import * as OpenCodeConnection from "@plue/core/OpenCodeConnection"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** Serves `handler` on a free loopback port; the scope closes the server and its connections. */
export const serve = (
  handler: (req: IncomingMessage, res: ServerResponse) => void
): Effect.Effect<{ readonly url: string; readonly server: Server }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly server: Server }>((resume) => {
      const server = createServer(handler)
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** An OpenCode client to `url` whose HTTP pool lives as long as the test's scope. */
export const client = (url: string, options: Partial<OpenCodeConnection.Options> = {}) =>
  Layer.build(Layer.mergeAll(OpenCodeConnection.layer({ url, ...options }), NodeHttpClient.layerUndici)).pipe(
    Effect.flatMap((context) => Effect.provide(OpenCodeClient.make, context))
  )
