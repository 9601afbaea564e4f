/**
 * The C API, described once: every function with its arguments, operation number and result kind,
 * the result codes, the bridge-side entry points and the sidecar's wire format. The header
 * (`include/plue.h`), the koffi bindings, the operation dispatch, the wire codec and the C API
 * reference (`docs/c-api.md`) are all generated or driven from this module.
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
 * The bridge protocol: bumped when an operation, a frame, the table of JS entry points or a
 * signature changes (3: `plue_conflict_resolve` and `plue_bulk`). Checked when `plue host` binds a
 * library and in the sidecar's HELLO, so a header never calls an operation the runtime lacks.
 *
 * @since 0.1.0
 */
export const API_VERSION = 3

/**
 * The version as one number, `1000 * major + minor`, mirrored by `PLUE_VERSION_NUMBER`.
 *
 * @since 0.1.0
 */
export const VERSION_NUMBER = (() => {
  const [major, minor] = VERSION.split(".").map(Number)
  return 1000 * (major ?? 0) + (minor ?? 0)
})()

/**
 * Result codes. Numbers never change; new codes are only appended.
 *
 * @since 0.1.0
 */
export const ErrorCodes = [
  { name: "PLUE_OK", value: 0, doc: "Success." },
  {
    name: "PLUE_ERR_INVALID_ARGUMENT",
    value: 1,
    doc:
      "An argument is NULL where it may not be, not valid UTF-8, or not of the right shape (a session id that is not `ses_` + letters/digits); or the server rejected it."
  },
  { name: "PLUE_ERR_INVALID_HANDLE", value: 2, doc: "The handle is NULL, made up, or already destroyed." },
  { name: "PLUE_ERR_NOT_FOUND", value: 3, doc: "No session with that id on the server." },
  { name: "PLUE_ERR_DELETED", value: 4, doc: "The handle's session was deleted (by this host or another client). Destroy the handle." },
  { name: "PLUE_ERR_UNAUTHORIZED", value: 5, doc: "The server refused the password." },
  { name: "PLUE_ERR_UNREACHABLE", value: 6, doc: "The server could not be reached: refused, reset, or no answer in time." },
  { name: "PLUE_ERR_ABORTED", value: 7, doc: "The operation was interrupted by plue_session_abort on its handle." },
  { name: "PLUE_ERR_WRONG_THREAD", value: 8, doc: "A blocking call was made on the JavaScript main thread, where it could only deadlock." },
  {
    name: "PLUE_ERR_NOT_BOUND",
    value: 9,
    doc:
      "No bridge is bound: plue_init was not called (or failed, or plue_shutdown ended it), the sidecar exited, the process was forked from the one that called plue_init, or `plue host` has unbound the library."
  },
  { name: "PLUE_ERR_SERVER", value: 10, doc: "The OpenCode server failed (HTTP 5xx), for instance sharing with no share service." },
  { name: "PLUE_ERR_PROTOCOL", value: 11, doc: "The server answered something that could not be decoded." },
  { name: "PLUE_ERR_SHARE_UNAVAILABLE", value: 12, doc: "The server shared the session without a URL (sharing is disabled there)." },
  { name: "PLUE_ERR_INTERNAL", value: 13, doc: "An unexpected failure inside plue; the message says more." },
  { name: "PLUE_ERR_OUT_OF_MEMORY", value: 14, doc: "An allocation failed." }
] as const

/**
 * The name of a result code.
 *
 * @since 0.1.0
 */
export type ErrorName = (typeof ErrorCodes)[number]["name"]

/**
 * The error code numbers by name.
 *
 * @since 0.1.0
 */
export const Code = Object.fromEntries(ErrorCodes.map((c) => [c.name, c.value])) as {
  readonly [K in ErrorName]: number
}

/**
 * What a bridged operation gives back to C: a new handle, a JSON string the caller owns, a
 * status code, or nothing (`plue_session_destroy`).
 *
 * @since 0.1.0
 */
export type ResultKind = "handle" | "json" | "status" | "void"

/**
 * A C API function that is bridged to the session manager: one operation number, called with
 * (handle, a, b) where a and b are its string arguments in order.
 *
 * @since 0.1.0
 */
export interface BridgedFunction {
  readonly name: string
  /** The operation number: what the koffi callback and the sidecar's CALL frame carry. */
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
  /** More documentation (the JSON shapes it takes and gives), for the header and the reference. */
  readonly details?: ReadonlyArray<string>
}

/**
 * The bridged functions: the seed's nine and what a host needs beside them.
 *
 * @since 0.1.0
 */
export const Functions = [
  {
    name: "plue_session_create",
    op: 1,
    result: "handle",
    handle: false,
    strings: [{ name: "parent_id", nullable: true, doc: "the parent session's id, or NULL for a root session" }],
    summary:
      "Creates a session (a child of `parent_id` when given) and opens a handle on it. A parent that does not exist fails with PLUE_ERR_NOT_FOUND and creates nothing.",
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
    summary:
      "The session as JSON (OpenCode's Session object), from the coherent cache when it is fresh. While the bridge follows the server's event stream, this is answered in C from a mirror of the cache, updated in the same step as every cache change. With the outbox on (PLUE_OUTBOX=1), the value visible here, plus `pending` (`[{opId, kind, field, state}]`) while queued operations wait for the session.",
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
    returns: "0 on success, otherwise a plue_error code."
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
    summary:
      "Runs OpenCode's init turn on the model and blocks until it ends. plue_session_abort on the same handle, from another thread, ends it early with PLUE_ERR_ABORTED.",
    returns: "0 on success, otherwise a plue_error code."
  },
  {
    name: "plue_session_delete",
    op: 7,
    result: "status",
    handle: true,
    strings: [],
    summary: "Deletes the session and all its children. The handle stays valid to destroy; other calls on it fail with PLUE_ERR_DELETED.",
    returns: "0 on success, otherwise a plue_error code."
  },
  {
    name: "plue_session_abort",
    op: 8,
    result: "status",
    handle: true,
    strings: [],
    summary: "Interrupts the handle's in-flight calls (they return PLUE_ERR_ABORTED) and stops the session's run on the server.",
    returns: "0 on success, otherwise a plue_error code."
  },
  {
    name: "plue_session_create_share",
    op: 9,
    result: "json",
    handle: true,
    strings: [],
    summary:
      "Shares the session. The JSON is `{\"url\": \"...\", \"secret\": \"...\", \"expiresAt\": ms, \"session\": {...}}`; `secret` (the owner's capability to revoke the share) and `expiresAt` are there when the share service is plue's own.",
    returns: "a string the caller owns and frees with plue_free_json; NULL on failure."
  },
  {
    name: "plue_session_unshare",
    op: 10,
    result: "status",
    handle: true,
    strings: [],
    summary: "Stops sharing the session.",
    returns: "0 on success, otherwise a plue_error code."
  },
  {
    name: "plue_session_destroy",
    op: 11,
    result: "void",
    handle: true,
    strings: [],
    summary:
      "Closes the handle; in-flight calls on it fail with PLUE_ERR_INVALID_HANDLE. The session stays on the server. NULL is ignored (as free(NULL) is); a destroyed or made-up handle sets PLUE_ERR_INVALID_HANDLE and is otherwise ignored.",
    returns: "nothing; plue_get_last_error_code() says whether the handle was open."
  },
  {
    name: "plue_conflict_resolve",
    op: 12,
    result: "status",
    handle: false,
    strings: [
      { name: "op_id", nullable: false, doc: "the `opId` of a `Conflict` event (or of `plue outbox list`)" },
      {
        name: "choice",
        nullable: false,
        doc: "`\"local\"` (send this side's title), `\"remote\"` (keep the server's), or `\"text:\"` followed by the title to send"
      }
    ],
    summary:
      "Resolves a title conflict of the outbox (PLUE_OUTBOX=1): the queued change waiting on it is sent with the chosen title, or dropped for the server's. The outcome arrives as events (`Confirmed`, `RolledBack`, or a new `Conflict`). An op_id that is not waiting on a conflict fails with PLUE_ERR_NOT_FOUND; a choice of another shape with PLUE_ERR_INVALID_ARGUMENT.",
    returns: "0 once the choice is recorded, otherwise a plue_error code."
  },
  {
    name: "plue_bulk",
    op: 13,
    result: "json",
    handle: false,
    strings: [{
      name: "ops_json",
      nullable: false,
      doc: "the batch as JSON: an array of operations, or `{\"operations\": [...], \"concurrency\": n, \"stopOnError\": true}`"
    }],
    summary:
      "Runs a batch of session operations by session id, at most `concurrency` (default 8) at once, and gives one result per operation, in input order. Operations on the same session run one after another in input order; different sessions run in parallel. Not atomic: what succeeded stays done when another operation fails. An operation that repeats the previous one on its session (same op and arguments) is skipped. With `stopOnError`, no operation starts after the first failure. plue_shutdown during a batch lets the operations in flight finish and cancels the rest. While it runs, event subscribers receive `{\"_tag\":\"BulkProgress\",\"batch\":n,\"done\":n,\"failed\":n,\"total\":n}` at most every 100 ms.",
    returns:
      "the results as a JSON array, a string the caller owns and frees with plue_free_json; NULL only when ops_json is not a valid batch (PLUE_ERR_INVALID_ARGUMENT), or when the call itself could not run (PLUE_ERR_NOT_BOUND, ...). A failed operation is a result, never a NULL.",
    details: [
      "Operations (unknown fields refuse the whole batch; a malformed session id fails only its operation):",
      "  {\"op\":\"create\", \"title\"?: string, \"parent\"?: id}",
      "  {\"op\":\"title\", \"session\": id, \"title\": string}",
      "  {\"op\":\"delete\"|\"abort\"|\"share\"|\"unshare\", \"session\": id}",
      "Results, in input order, each with \"index\" (its position) and \"op\" (the operation as given):",
      "  {\"status\":\"ok\", \"index\", \"op\", \"session\": Session (delete: as it was just before),",
      "   \"deleted\"?: n (delete: sessions that went, children included), \"share\"?: {\"url\", \"secret\"?, \"expiresAt\"?} (share)}",
      "  {\"status\":\"failed\", \"index\", \"op\", \"code\": plue_error, \"message\": text, \"error\": {\"_tag\": ..., its fields}}",
      "  {\"status\":\"skipped\", \"index\", \"op\", \"reason\": \"duplicate\" (with \"duplicateOf\": index) | \"stopped\"}",
      "  {\"status\":\"cancelled\", \"index\", \"op\"}: not started when plue_shutdown came; nothing was sent for it."
    ]
  }
] as const satisfies ReadonlyArray<BridgedFunction>

/**
 * The name of a bridged function.
 *
 * @since 0.1.0
 */
export type FunctionName = (typeof Functions)[number]["name"]

/**
 * A C function of the library that is not bridged (errors, memory, events, lifecycle, version):
 * its full C signature, and its documentation for the header and the reference.
 *
 * @since 0.1.0
 */
export interface LibraryFunction {
  readonly signature: string
  readonly doc: ReadonlyArray<string>
  /** One line for the reference's table. */
  readonly summary: string
  readonly group: "lifecycle" | "errors" | "memory" | "events" | "version"
}

/**
 * The library functions that are not bridged operations.
 *
 * @since 0.1.0
 */
export const LibraryFunctions: ReadonlyArray<LibraryFunction> = [
  {
    group: "lifecycle",
    signature: "int plue_init(const plue_options *options)",
    doc: [
      "plue_init: binds plue in a program with its own main(). Starts the sidecar, a child process running",
      "`plue serve` (options->command, else the PLUE_COMMAND environment variable, else `plue` on PATH),",
      "connected over a socketpair, and returns once it is bound to OpenCode, or fails with the sidecar's",
      "own error text (a timeout bounds the wait). options may be NULL (defaults: OPENCODE_URL and",
      "OPENCODE_SERVER_PASSWORD, else a local OpenCode server the sidecar starts and stops).",
      "Reference-counted and thread-safe: every successful plue_init needs one plue_shutdown; only the",
      "first starts the sidecar. Under `plue host` (already bound) it only counts, so the same program",
      "works both ways. Returns 0, or a plue_error_t code."
    ],
    summary: "starts the sidecar (first call) or counts (later calls, and under `plue host`); 0 or a `plue_error_t`"
  },
  {
    group: "lifecycle",
    signature: "int plue_shutdown(void)",
    doc: [
      "plue_shutdown: releases one plue_init. The last one stops new calls (they fail with",
      "PLUE_ERR_NOT_BOUND), ends the calls in flight (they return PLUE_ERR_NOT_BOUND), waits until",
      "every one has returned, ends every event subscription, closes the socket and reaps the sidecar.",
      "Handles from before are invalid afterwards; plue_init may be called again.",
      "Returns 0, or PLUE_ERR_NOT_BOUND when there is no plue_init to release."
    ],
    summary: "releases one `plue_init`; the last waits for calls in flight, stops the sidecar and reaps it"
  },
  {
    group: "errors",
    signature: "const char *plue_get_last_error(void)",
    doc: [
      "plue_get_last_error: the message of the last call made on this thread (\"\" after a success),",
      "at most 1023 bytes. Owned by plue; valid until the next plue call on this thread. Never NULL."
    ],
    summary: "the calling thread's last message (\"\" after a success), at most 1023 bytes, owned by plue, never NULL"
  },
  {
    group: "errors",
    signature: "int plue_get_last_error_code(void)",
    doc: ["plue_get_last_error_code: the plue_error_t of the last call made on this thread (PLUE_OK after a success)."],
    summary: "the calling thread's last `plue_error_t`"
  },
  {
    group: "errors",
    signature: "const char *plue_errstr(int code)",
    doc: [
      "plue_errstr: the fixed English description of a result code (\"unknown result code\" for a number",
      "plue does not define). Owned by plue, never NULL; does not touch the thread's last error."
    ],
    summary: "the fixed description of a result code, owned by plue, never NULL"
  },
  {
    group: "memory",
    signature: "void plue_free_json(char *json)",
    doc: [
      "plue_free_json: frees a string returned by a plue function (char * results only). NULL is ignored,",
      "as free(NULL) is. Passing anything else (an event's JSON, plue_get_last_error()'s buffer, the",
      "host's own memory, a string freed already) is undefined behaviour, as it is for free();",
      "`plue host --debug` reports strings never freed."
    ],
    summary: "frees a string plue returned; NULL is ignored; anything else is undefined behaviour, as for `free`"
  },
  {
    group: "events",
    signature: "int plue_event_subscribe(plue_event_callback callback, void *userdata)",
    doc: [
      "plue_event_subscribe: calls callback(event_json, userdata) for every session event, from this",
      "host's changes and every other client's, in order, on plue's dispatcher thread.",
      "Returns a subscription id > 0, or a negative plue_error_t (-PLUE_ERR_INVALID_ARGUMENT for a NULL",
      "callback). Events wait for the dispatcher thread in one queue, shared by every subscription, of",
      "at most PLUE_EVENT_QUEUE_MAX events (8192; define it before including plue.h with",
      "PLUE_IMPLEMENTATION to change it): while a callback is slower than events arrive and the queue",
      "is full, the oldest waiting event is dropped, and every subscriber then gets",
      "{\"_tag\":\"Lagged\",\"missed\":n} (n events dropped) before the next event."
    ],
    summary: "calls `cb(event_json, userdata)` for every session event; returns an id > 0 or a negative `plue_error_t`"
  },
  {
    group: "events",
    signature: "int plue_event_unsubscribe(int subscription_id)",
    doc: [
      "plue_event_unsubscribe: stops a subscription. When it returns, the callback is not running and",
      "will not be called again (unless it is called from inside that callback, which then finishes).",
      "Returns 0, or PLUE_ERR_INVALID_ARGUMENT for an unknown id."
    ],
    summary: "stops it; when it returns the callback is not running (unless called from inside it)"
  },
  {
    group: "version",
    signature: "const char *plue_version(void)",
    doc: ["plue_version: the version of the running library, e.g. \"" + VERSION + "\" (compare with PLUE_VERSION). Owned by plue."],
    summary: "the runtime version; compare with the `PLUE_VERSION` macro"
  },
  {
    group: "version",
    signature: "int plue_version_number(void)",
    doc: ["plue_version_number: the version of the running library as 1000 * major + minor (compare with PLUE_VERSION_NUMBER)."],
    summary: "the runtime version as `1000 * major + minor`; compare with `PLUE_VERSION_NUMBER`"
  }
]

/**
 * The fields of `plue_options`, in order (the struct starts with its own size so it can grow;
 * fields are only ever appended).
 *
 * @since 0.1.0
 */
export const OptionFields: ReadonlyArray<{ readonly type: string; readonly name: string; readonly doc: string }> = [
  { type: "size_t", name: "size", doc: "sizeof(plue_options), set by the caller: fields past it are taken as unset" },
  {
    type: "const char *",
    name: "command",
    doc: "the sidecar program (a path, or a name looked up on PATH), run as `COMMAND serve`; NULL: the PLUE_COMMAND environment variable, else `plue`"
  },
  { type: "const char *", name: "url", doc: "the OpenCode server's URL; NULL: OPENCODE_URL, else a local server the sidecar starts" },
  { type: "const char *", name: "password", doc: "the server's password; NULL: OPENCODE_SERVER_PASSWORD" },
  { type: "const char *", name: "directory", doc: "the project directory; NULL: OPENCODE_DIRECTORY, else the server's own" },
  { type: "int", name: "timeout_ms", doc: "how long plue_init waits for the sidecar to be ready; 0: 60000" }
]

/**
 * A function the header exports for the bridge (called by @plue/ffi through koffi, never by
 * hosts). Its prototype is what koffi binds.
 *
 * @since 0.1.0
 */
export interface BridgeEntry {
  readonly key: string
  readonly prototype: string
}

/**
 * The bridge-side entry points, bound by `Bridge.bind` from these prototypes.
 *
 * @since 0.1.0
 */
export const BridgeEntries = [
  { key: "bind", prototype: "int plue__bind(const plue__api *api)" },
  { key: "unbind", prototype: "int plue__unbind(void)" },
  { key: "complete", prototype: "void plue__complete(void *record, int code, const char *message, const char *json, int64_t value)" },
  { key: "push", prototype: "void plue__event_push(const char *json)" },
  { key: "live", prototype: "int64_t plue__live_strings(void)" },
  { key: "inFlight", prototype: "int plue__calls_in_flight(void)" },
  { key: "mirrorPut", prototype: "void plue__mirror_put(int64_t handle, const char *json)" },
  { key: "mirrorRemove", prototype: "void plue__mirror_remove(int64_t handle)" },
  { key: "mirrorClear", prototype: "void plue__mirror_clear(void)" }
] as const satisfies ReadonlyArray<BridgeEntry>

/**
 * The JS entry point C calls for every bridged operation (a koffi callback under `plue host`).
 *
 * @since 0.1.0
 */
export const CALL_PROTOTYPE = "int plue__call_fn(int op, int64_t handle, const char *a, const char *b, void *record)"

/**
 * The table of JS entry points handed to `plue__bind` (only ever appended to).
 *
 * @since 0.1.0
 */
export const API_TABLE = { name: "plue__api", fields: [["api_version", "int"], ["call", "plue__call_fn *"]] } as const

/**
 * The sidecar's frame kinds. Every frame is a fixed header of {@link WIRE_HEADER_SIZE} bytes
 * (little-endian) followed by its two strings:
 *
 * | offset | type | field |
 * |---|---|---|
 * | 0 | u32 | length of the whole frame, header included |
 * | 4 | u32 | kind |
 * | 8 | u64 | call id (CALL, COMPLETE), else 0 |
 * | 16 | i64 | value: the handle (CALL, MIRROR_*), the result value (COMPLETE), the protocol version (HELLO, READY) |
 * | 24 | i32 | code: the operation number (CALL), the result code (COMPLETE, FAILED) |
 * | 28 | i32 | byte length of string a, -1 for NULL |
 * | 32 | i32 | byte length of string b, -1 for NULL |
 *
 * @since 0.1.0
 */
export const WireKinds = [
  {
    name: "HELLO",
    value: 1,
    from: "host",
    doc: "first frame: value = protocol version, a = options as JSON ({\"url\",\"password\",\"directory\"}, each optional)"
  },
  { name: "READY", value: 2, from: "sidecar", doc: "the bridge is bound: value = protocol version, a = the sidecar's plue version" },
  { name: "FAILED", value: 3, from: "sidecar", doc: "the sidecar could not start: code = a plue_error_t, a = its message; the sidecar then exits" },
  { name: "CALL", value: 4, from: "host", doc: "an operation: id, value = handle, code = operation number, a and b = its strings" },
  { name: "COMPLETE", value: 5, from: "sidecar", doc: "a call ended: id, code = result code, value = the new handle, a = message, b = JSON" },
  { name: "EVENT", value: 6, from: "sidecar", doc: "a session event: a = its JSON" },
  { name: "MIRROR_PUT", value: 7, from: "sidecar", doc: "warm-read mirror: value = handle, a = session JSON" },
  { name: "MIRROR_REMOVE", value: 8, from: "sidecar", doc: "warm-read mirror: value = handle leaves it" },
  { name: "MIRROR_CLEAR", value: 9, from: "sidecar", doc: "warm-read mirror: empty it (the cache lost coherence)" }
] as const

/**
 * The frame kind numbers by name.
 *
 * @since 0.1.0
 */
export const Wire = Object.fromEntries(WireKinds.map((k) => [k.name, k.value])) as {
  readonly [K in (typeof WireKinds)[number]["name"]]: number
}

/**
 * Size of a frame's fixed header.
 *
 * @since 0.1.0
 */
export const WIRE_HEADER_SIZE = 36

/**
 * Largest frame either side accepts (a larger length means a broken stream).
 *
 * @since 0.1.0
 */
export const WIRE_MAX_FRAME = 256 * 1024 * 1024

/**
 * The events a callback receives (`plue_event_subscribe`): each is one JSON object whose `_tag`
 * is one of these kinds. Kinds are only ever appended; a host ignores kinds it does not know.
 *
 * @since 0.1.0
 */
export const EventKinds = [
  { name: "CREATED", tag: "Created", doc: "a session appeared: `session`, `origin`" },
  { name: "UPDATED", tag: "Updated", doc: "a session changed: `session`, `changes` (the top-level fields that differ), `origin`" },
  { name: "DELETED", tag: "Deleted", doc: "a session is gone (children before their parent): `sessionId`, `session` (when known), `origin`" },
  { name: "SHARED", tag: "Shared", doc: "a session got a share URL: `session`, `url`, `origin`" },
  { name: "UNSHARED", tag: "Unshared", doc: "a session stopped being shared: `session`, `origin`" },
  { name: "ABORTED", tag: "Aborted", doc: "an abort was sent through this bridge: `sessionId`, `origin`" },
  {
    name: "STATUS",
    tag: "Status",
    doc:
      "a session became busy, idle or is retrying the model: `sessionId`, `status` (`{\"type\":\"busy\"|\"idle\"}` or `{\"type\":\"retry\",\"attempt\",\"message\",\"next\"}`)"
  },
  { name: "ERROR", tag: "Error", doc: "a session's run failed: `sessionId` (when known), `error` (OpenCode's error object)" },
  {
    name: "PROGRESS",
    tag: "Progress",
    doc:
      "a phase change of an operation made through this bridge: `opId` (a number naming the operation), `sessionId` (absent while a create has no session yet), `kind` (`create`, `title`, `initialize`, `delete`, `abort`, `share`, `unshare`), `phase` (one of the PLUE_PROGRESS_* strings), `attempt` (retrying: the retry's number, from 1), `reason` (retrying: what failed; failed: why)"
  },
  {
    name: "BULK_PROGRESS",
    tag: "BulkProgress",
    doc: "how far a batch (plue_bulk) has got, at most every 100 ms and once at the end: `batch`, `done`, `failed`, `total`"
  },
  {
    name: "QUEUED",
    tag: "Queued",
    doc:
      "outbox (PLUE_OUTBOX=1): an operation was written to the outbox and is already visible: `opId`, `sessionId`, `kind` (`create`, `title`, `delete`), `replaces` (the queued rename it replaced)"
  },
  { name: "CONFIRMED", tag: "Confirmed", doc: "outbox: the server applied a queued operation: `opId`, `sessionId`, `kind`" },
  {
    name: "ROLLED_BACK",
    tag: "RolledBack",
    doc:
      "outbox: a queued operation failed for good or was dropped; the server's value is visible again: `opId`, `sessionId`, `kind`, `error`, `restored` (the session as now visible)"
  },
  {
    name: "CANCELLED",
    tag: "Cancelled",
    doc: "outbox: a queued operation was cancelled before it was sent by a later one (`by`): `opId`, `sessionId`, `kind`"
  },
  {
    name: "CONFLICT",
    tag: "Conflict",
    doc:
      "outbox: a queued title change met another title on the server and no clean merge exists; it waits for plue_conflict_resolve: `opId`, `sessionId`, `field`, `base`, `local`, `remote`"
  },
  { name: "OVERWRITTEN", tag: "Overwritten", doc: "outbox: a title change was sent, but another value arrived in between: `opId`, `sessionId`, `remote`" },
  {
    name: "DEAD_LETTERED",
    tag: "DeadLettered",
    doc: "outbox: a queued operation can never succeed and moved to the dead letters: `opId`, `sessionId`, `kind`, `error`"
  },
  {
    name: "LAGGED",
    tag: "Lagged",
    doc:
      "the callbacks fell behind: `missed` events were dropped (the oldest waiting, past the `PLUE_EVENT_QUEUE_MAX` events the one queue of every subscription holds: 8192, unless defined before including plue.h with PLUE_IMPLEMENTATION, or events the header had no memory to keep); every subscriber gets it, before the next event"
  }
] as const

/**
 * The phases of a `Progress` event, in the order an operation goes through them (`retrying` and
 * `waiting` only when they happen; an operation ends with `done` or `failed`).
 *
 * @since 0.1.0
 */
export const ProgressPhases = [
  { name: "QUEUED", phase: "queued", doc: "accepted, not started" },
  { name: "SENDING", phase: "sending", doc: "its request is on the way to the server" },
  {
    name: "RETRYING",
    phase: "retrying",
    doc: "an attempt failed and will be sent again (`attempt`, `reason`); for initialize also OpenCode retrying the model"
  },
  { name: "WAITING", phase: "waiting", doc: "initialize: the model is running the turn (OpenCode says the session is busy)" },
  { name: "DONE", phase: "done", doc: "it succeeded" },
  { name: "FAILED", phase: "failed", doc: "it failed (`reason`); the call itself returns the error code" }
] as const
