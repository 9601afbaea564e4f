/**
 * The C API, described once. The header (`include/plue.h`), the koffi bindings and the C API
 * reference are all generated from this description.
 *
 * @since 0.1.0
 */

/**
 * Runtime version string, mirrored by the `PLUE_VERSION` macro.
 *
 * @since 0.1.0
 */
export const VERSION = "0.1.0"

/**
 * Bumped when the table of JS entry points or a signature changes; checked at bind time.
 *
 * @since 0.1.0
 */
export const API_VERSION = 1

/**
 * Result codes. Numbers never change; new codes are only appended.
 *
 * @since 0.1.0
 */
export const ErrorCodes = [
  { name: "PLUE_OK", value: 0, doc: "Success." },
  { name: "PLUE_ERR_INVALID_ARGUMENT", value: 1, doc: "An argument is NULL where it may not be, not valid UTF-8, or not of the right shape (a session id that is not `ses_` + letters/digits); or the server rejected it." },
  { name: "PLUE_ERR_INVALID_HANDLE", value: 2, doc: "The handle is NULL, made up, or already destroyed." },
  { name: "PLUE_ERR_NOT_FOUND", value: 3, doc: "No session with that id on the server." },
  { name: "PLUE_ERR_DELETED", value: 4, doc: "The handle's session was deleted (by this host or another client). Destroy the handle." },
  { name: "PLUE_ERR_UNAUTHORIZED", value: 5, doc: "The server refused the password." },
  { name: "PLUE_ERR_UNREACHABLE", value: 6, doc: "The server could not be reached: refused, reset, or no answer in time." },
  { name: "PLUE_ERR_ABORTED", value: 7, doc: "The operation was interrupted by plue_session_abort on its handle." },
  { name: "PLUE_ERR_WRONG_THREAD", value: 8, doc: "A blocking call was made on the JavaScript main thread, where it could only deadlock." },
  { name: "PLUE_ERR_NOT_BOUND", value: 9, doc: "No bridge is bound: the library is not running under `plue host` (or the bridge has shut down)." },
  { name: "PLUE_ERR_SERVER", value: 10, doc: "The OpenCode server failed (HTTP 5xx), for instance sharing with no share service." },
  { name: "PLUE_ERR_PROTOCOL", value: 11, doc: "The server answered something that could not be decoded." },
  { name: "PLUE_ERR_SHARE_UNAVAILABLE", value: 12, doc: "The server shared the session without a URL (sharing is disabled there)." },
  { name: "PLUE_ERR_INTERNAL", value: 13, doc: "An unexpected failure inside plue; the message says more." },
  { name: "PLUE_ERR_OUT_OF_MEMORY", value: 14, doc: "An allocation failed." }
] as const

/**
 * The error code numbers by name.
 *
 * @since 0.1.0
 */
export const Code = Object.fromEntries(ErrorCodes.map((c) => [c.name, c.value])) as {
  readonly [K in (typeof ErrorCodes)[number]["name"]]: number
}

/**
 * What a bridged operation gives back to C.
 *
 * @since 0.1.0
 */
export type ResultKind = "handle" | "json" | "status"

/**
 * A C API function that is bridged to the session manager.
 *
 * @since 0.1.0
 */
export interface BridgedFunction {
  readonly name: string
  /** The operation number passed to the JS entry point. */
  readonly op: number
  readonly result: ResultKind
  /** The handle argument, when the function takes one. */
  readonly handle: boolean
  /** Up to two string arguments, in order. */
  readonly strings: ReadonlyArray<{ readonly name: string; readonly nullable: boolean; readonly doc: string }>
  readonly summary: string
  readonly returns: string
  /** Answered in C from the warm-read mirror when it holds the handle (no hop to JavaScript). */
  readonly mirrored?: boolean
}

/**
 * The bridged functions: the seed's nine and what a host needs beside them.
 *
 * @since 0.1.0
 */
export const Functions: ReadonlyArray<BridgedFunction> = [
  {
    name: "plue_session_create",
    op: 1,
    result: "handle",
    handle: false,
    strings: [{ name: "parent_id", nullable: true, doc: "the parent session's id, or NULL for a root session" }],
    summary: "Creates a session (a child of `parent_id` when given) and opens a handle on it. A parent that does not exist fails with PLUE_ERR_NOT_FOUND and creates nothing.",
    returns: "a new handle, to be released with plue_session_destroy; NULL on failure."
  },
  {
    name: "plue_session_open",
    op: 2,
    result: "handle",
    handle: false,
    strings: [{ name: "session_id", nullable: false, doc: "an existing session's id, like `ses_df557fc75ffe8uAWx0P0wTjSPl`" }],
    summary: "Opens a handle on an existing session. Ids not of OpenCode's shape are refused before any request.",
    returns: "a new handle, to be released with plue_session_destroy; NULL on failure."
  },
  {
    name: "plue_session_get_info",
    op: 3,
    result: "json",
    handle: true,
    strings: [],
    summary: "The session as JSON (OpenCode's Session object), from the coherent cache when it is fresh. While the bridge follows the server's event stream, this is answered in C from a mirror of the cache, updated in the same step as every cache change.",
    returns: "a string the caller owns and frees with plue_free_json; NULL on failure.",
    mirrored: true
  },
  {
    name: "plue_session_list",
    op: 4,
    result: "json",
    handle: false,
    strings: [],
    summary: "Every session, newest update first, as a JSON array (never cut at the server's page size).",
    returns: "a string the caller owns and frees with plue_free_json; NULL on failure."
  },
  {
    name: "plue_session_update_title",
    op: 5,
    result: "status",
    handle: true,
    strings: [{ name: "title", nullable: false, doc: "the new title, valid UTF-8" }],
    summary: "Sets the session's title.",
    returns: "0 on success, otherwise a plue_error_t code."
  },
  {
    name: "plue_session_initialize",
    op: 6,
    result: "status",
    handle: true,
    strings: [
      { name: "provider_id", nullable: false, doc: "the provider, e.g. `anthropic`" },
      { name: "model_id", nullable: false, doc: "the model, e.g. `claude-sonnet-4`" }
    ],
    summary: "Runs OpenCode's init turn on the model and blocks until it ends. plue_session_abort on the same handle, from another thread, ends it early with PLUE_ERR_ABORTED.",
    returns: "0 on success, otherwise a plue_error_t code."
  },
  {
    name: "plue_session_delete",
    op: 7,
    result: "status",
    handle: true,
    strings: [],
    summary: "Deletes the session and all its children. The handle stays valid to destroy; other calls on it fail with PLUE_ERR_DELETED.",
    returns: "0 on success, otherwise a plue_error_t code."
  },
  {
    name: "plue_session_abort",
    op: 8,
    result: "status",
    handle: true,
    strings: [],
    summary: "Interrupts the handle's in-flight calls (they return PLUE_ERR_ABORTED) and stops the session's run on the server.",
    returns: "0 on success, otherwise a plue_error_t code."
  },
  {
    name: "plue_session_create_share",
    op: 9,
    result: "json",
    handle: true,
    strings: [],
    summary: "Shares the session. The JSON is `{\"url\": \"...\", \"secret\": \"...\", \"expiresAt\": ms, \"session\": {...}}`; `secret` (the owner's capability to revoke the share) and `expiresAt` are there when the share service is plue's own.",
    returns: "a string the caller owns and frees with plue_free_json; NULL on failure."
  },
  {
    name: "plue_session_unshare",
    op: 10,
    result: "status",
    handle: true,
    strings: [],
    summary: "Stops sharing the session.",
    returns: "0 on success, otherwise a plue_error_t code."
  }
]

/**
 * The operation number of `plue_session_destroy` (it returns nothing, so it is not listed above).
 *
 * @since 0.1.0
 */
export const DESTROY_OP = 11
