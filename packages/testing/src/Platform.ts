/**
 * The Node platform every test runs on: file system, child processes (`NodeContext`) and an HTTP
 * client on undici.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Layer from "effect/Layer"

/**
 * `NodeContext.layer` and `NodeHttpClient.layerUndici`.
 *
 * @since 0.1.0
 */
export const layer = Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)
