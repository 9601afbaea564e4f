/**
 * Loopback ports for tests.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { createServer } from "node:net"

/**
 * A loopback port that was free a moment ago: bound on 0, noted, released.
 *
 * @since 0.1.0
 */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as { port: number }
    server.close(() => resume(Effect.succeed(port)))
  })
})
