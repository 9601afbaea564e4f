/**
 * What the session bridge needs of a share service that runs in this process: where it listens
 * (so a managed OpenCode server shares through it) and the owner grant of each share made through
 * it (so `SessionManager.share` can hand the owner its secret). The share service itself lives in
 * `@plue/share`, which provides this service; with none provided, there is no share service of our
 * own: a managed server keeps OpenCode's configured one and `share` returns the URL alone.
 *
 * The bridge reads this service when its layers are built: provide it *to* the bridge's layer
 * (`Plue.layerManaged(...).pipe(Layer.provide(ShareLive))`), so the managed server and the session manager
 * see the same share service.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * What the owner of a share holds: its URL, and the secret that lets it update or revoke the share.
 *
 * @since 0.1.0
 */
export interface OwnerGrant {
  readonly shareId: string
  readonly url: string
  readonly secret: string
  /** Epoch milliseconds, or `null` for a share that never expires. */
  readonly expiresAt: number | null
}

/**
 * @since 0.1.0
 */
export interface Service {
  /** Base URL of the share service (OpenCode's `enterprise.url`), when one runs in this process. */
  readonly url: string | undefined
  /**
   * The owner grant of the share last made for `sessionId` through this process, handed over once
   * and then forgotten (the share service keeps only the secret's hash).
   */
  readonly take: (sessionId: string) => Effect.Effect<Option.Option<OwnerGrant>>
}

/**
 * No share service of our own: no URL, no grants.
 *
 * @since 0.1.0
 */
export const none: Service = { url: undefined, take: () => Effect.succeed(Option.none()) }

/**
 * The share grants service; defaults to `none` when not provided.
 *
 * @since 0.1.0
 */
export class ShareGrants extends Context.Reference<ShareGrants>()("@plue/core/ShareGrants", {
  defaultValue: (): Service => none
}) {}

/**
 * A share service elsewhere (not in this process) at `url`: a managed server shares through it;
 * no grants (its owner secrets stay with OpenCode).
 *
 * @since 0.1.0
 */
export const layerRemote = (url: string): Layer.Layer<ShareGrants> => Layer.succeed(ShareGrants, { ...none, url })
