/**
 * Generates the C API reference (`docs/c-api.md`) from the same description as the header.
 *
 * @since 0.1.0
 */
import {
  API_VERSION,
  type BridgedFunction,
  ErrorCodes,
  EventKinds,
  Functions,
  LibraryFunctions,
  OptionFields,
  ProgressPhases,
  VERSION,
  VERSION_NUMBER,
  WIRE_HEADER_SIZE,
  WireKinds
} from "./Api.js"
import { opMacro, signature } from "./Header.js"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

/**
 * The Python example of the reference: the script and the C file that `test/Python.test.ts` runs.
 *
 * @since 0.1.0
 */
export const pythonExamplePaths = {
  script: fileURLToPath(new URL("../test/python/plue_ctypes.py", import.meta.url)),
  implementation: fileURLToPath(new URL("../test/python/plue_impl.c", import.meta.url))
}

/** A file's text without its final newline (a fenced block adds its own). */
const example = (path: string): string => readFileSync(path, "utf8").replace(/\n$/, "")

/**
 * The Markdown reference.
 *
 * @since 0.1.0
 */
export const generateReference = (): string => {
  const out: Array<string> = []
  const push = (...lines: Array<string>) => out.push(...lines)
  push(
    "# C API reference",
    "",
    `Generated from \`packages/ffi/src/Api.ts\` and \`packages/ffi/c/plue.c\`, like \`packages/ffi/include/plue.h\` (plue ${VERSION}, \`PLUE_VERSION_NUMBER\` ${VERSION_NUMBER}, bridge protocol ${API_VERSION}). Do not edit: run \`npm run generate\`.`,
    "",
    "## Using it",
    "",
    "Include `plue.h` wherever you need it and define `PLUE_IMPLEMENTATION` in exactly one `.c` file before including it. It needs libc and pthreads only. There are two ways to run a program that uses it; the same code works both ways.",
    "",
    "### A program with its own `main()`: `plue_init` and the sidecar",
    "",
    "```c",
    "#include <stdio.h>",
    "#define PLUE_IMPLEMENTATION",
    "#include \"plue.h\"",
    "",
    "int main(void) {",
    "    if (plue_init(NULL) != 0) { fprintf(stderr, \"plue: %s\\n\", plue_get_last_error()); return 1; }",
    "    plue_session_t s = plue_session_create(NULL);",
    "    char *info = s ? plue_session_get_info(s) : NULL;",
    "    printf(\"%s\\n\", info ? info : plue_get_last_error());",
    "    plue_free_json(info);",
    "    plue_session_destroy(s);",
    "    return plue_shutdown();",
    "}",
    "```",
    "",
    "```sh",
    "cc -std=c11 -I packages/ffi/include -o app app.c -lpthread",
    "./app",
    "```",
    "",
    "`plue_init` starts the sidecar: a child process running `plue serve` (the program named by `options->command`, else by the `PLUE_COMMAND` environment variable, else `plue` found on `PATH`), with one end of a socketpair as its fd 3. It returns once the sidecar is connected to OpenCode (`options->url` / `OPENCODE_URL` with `options->password` / `OPENCODE_SERVER_PASSWORD`, else a local OpenCode server the sidecar starts and stops), or fails with the sidecar's own error text; it waits at most `options->timeout_ms` (default 60 s). A reader thread in the header completes calls and applies events and warm-read mirror updates; `plue_session_get_info` on a warm handle is still answered in C. The sidecar exits when its socket closes, so it never outlives the program.",
    "",
    "- `plue_init` is reference-counted and thread-safe: the first call starts the sidecar, later ones count; each needs a `plue_shutdown`. `plue_init` again after the last `plue_shutdown` starts a new sidecar (handles from before are then invalid).",
    "- The last `plue_shutdown` makes new calls fail with `PLUE_ERR_NOT_BOUND`, ends the calls in flight (they return `PLUE_ERR_NOT_BOUND`), waits until every one has returned, ends the event subscriptions, and reaps the sidecar.",
    "- The program's signal handlers, stdin and stdout are left alone: plue installs no handler (the sidecar's exit raises the program's own SIGCHLD as any child's would), writes to the socket with `MSG_NOSIGNAL` (a dead sidecar never raises SIGPIPE), and sends the sidecar's stdout to stderr (to `/dev/null` when the program's stderr is closed: a program started with stdin or stderr closed, `./app 2>&-`, works the same).",
    "- If the sidecar dies, every call in flight returns `PLUE_ERR_NOT_BOUND` (\"the plue sidecar exited during the call\"), and so do later calls until `plue_shutdown` and `plue_init` start another.",
    "- In a process forked from the one that called `plue_init`, calls fail with `PLUE_ERR_NOT_BOUND` (never hang); the child may call `plue_init` for a sidecar of its own.",
    "",
    "`plue_options` (zero it and set `size`; fields left NULL or 0 take their defaults; fields are only ever appended):",
    "",
    "```c",
    "typedef struct plue_options {",
    ...OptionFields.map((f) => `    ${f.type}${f.type.endsWith("*") ? "" : " "}${f.name};`.padEnd(34) + `/* ${f.doc} */`),
    "} plue_options;",
    "```",
    "",
    "### A plugin run by `plue host`",
    "",
    "Build the program as a shared library that exports `int plue_host_main(int argc, char **argv)` and run it with `plue host ./libhost.so [args...]` (it connects with `--url`/`OPENCODE_URL` and `--password`/`OPENCODE_SERVER_PASSWORD`, or starts a local OpenCode server). plue is bound through koffi before `plue_host_main` runs (on a thread of its own), so `plue_init` / `plue_shutdown` there only count. `plue host --debug` reports strings never freed and handles never destroyed.",
    "",
    "```sh",
    "cc -std=c11 -fPIC -shared -I packages/ffi/include -o libhost.so host.c -lpthread",
    "plue host ./libhost.so",
    "```",
    "",
    "### From Python (ctypes)",
    "",
    "A program in another language uses the first way through its C interface: build the header into a shared library, load it, and call `plue_init`, which starts the sidecar as above. From Python, with `ctypes` (`plue_impl.c` is the whole C file):",
    "",
    "```c",
    example(pythonExamplePaths.implementation),
    "```",
    "",
    "```sh",
    "cc -std=c11 -fPIC -shared -I packages/ffi/include -o libplue.so plue_impl.c -lpthread",
    "PLUE_LIBRARY=./libplue.so python3 plue_ctypes.py",
    "```",
    "",
    "```python",
    example(pythonExamplePaths.script),
    "```",
    "",
    "This is `packages/ffi/test/python/plue_ctypes.py`, which `packages/ffi/test/Python.test.ts` runs against a real OpenCode server, naming the sidecar with `PLUE_COMMAND` and the server with `OPENCODE_URL` and `OPENCODE_SERVER_PASSWORD` (without them: `plue` on `PATH` and a local server, as for a C program).",
    "",
    "- Declare `restype` and `argtypes` of every function before calling it: ctypes takes an undeclared result for a C `int`, which cuts a 64-bit pointer in half. Declare a `char *` the caller frees as `c_void_p`, read it with `ctypes.string_at` and free it with `plue_free_json`: a `c_char_p` result is copied into `bytes` and its pointer is lost, so it can never be freed. A `plue_session_t` is a `c_void_p` too (NULL is `None`).",
    "- A `ctypes.CDLL` function releases the GIL while it runs, so a blocking plue call holds up no other Python thread, and event callbacks run meanwhile. Python threads may call plue at once, like C threads.",
    "- The event callback runs on plue's dispatcher thread, a C thread: ctypes takes the GIL for it (Python names the thread `Dummy-N`). Keep a reference to the `CFUNCTYPE` object for as long as it is subscribed (here the module holds it). An exception raised in the callback is printed by ctypes (\"Exception ignored on calling ctypes callback function\") and dropped; plue goes on calling it.",
    "- `plue_get_last_error_code()` / `plue_get_last_error()` describe the calling thread's last call: read them on the thread that made it.",
    "- Call `plue_shutdown` before the interpreter exits: it ends the subscriptions, so no callback is called while the interpreter shuts down, and reaps the sidecar.",
    "",
    "### Rules for both",
    "",
    "- **Threads**: any host thread may call any function, concurrently; a call blocks its thread until the operation ends. Under `plue host`, a blocking call on the JavaScript main thread fails at once with `PLUE_ERR_WRONG_THREAD`. Event callbacks run on plue's own dispatcher thread, one at a time, in order, and may call plue functions; a slow callback holds up the others, and one slower than events arrive makes them all miss events (told by `Lagged`).",
    "- **Ownership**: every `char *` returned is the caller's, freed with `plue_free_json` (and only with it; `plue_free_json(NULL)` does nothing). `const char *` results belong to plue. Input strings are only read during the call and must be valid UTF-8.",
    "- **Handles** are opaque numbers, never pointers into memory: destroyed, double-destroyed and made-up handles fail with `PLUE_ERR_INVALID_HANDLE`; `plue_session_destroy(NULL)` does nothing.",
    "- **Errors**: pointer results are NULL on failure, `int` results are 0 on success and a `plue_error` code otherwise; `plue_get_last_error_code()` / `plue_get_last_error()` describe the calling thread's last call, `plue_errstr(code)` describes a code.",
    "- **Retries**: while OpenCode's database is locked by another process, its writes answer a generic HTTP 500 after about 5 s and apply nothing. plue retries that answer for the calls that are safe to repeat: `plue_session_update_title`, `plue_session_delete` (a session found gone on a retry counts as deleted), `plue_session_abort`, `plue_session_unshare`, and the reads `plue_session_list`, `plue_session_open` and `plue_session_get_info` (when it asks the server); never `plue_session_create`, `plue_session_initialize` or `plue_session_create_share`, which are sent once. Such a call blocks its thread through the retries: one that outlasts a short lock returns 0 soon after the lock ends; one that meets a lock lasting longer than the retry budget (15 s by default) returns `PLUE_ERR_SERVER` after about 17-20 s, and `plue_get_last_error()` says how many times it was sent and that the database may be locked. Writes sent together during a lock queue in OpenCode, which runs one write at a time, each waiting its 5 s: one still waiting when its request timeout ends (10 s, `OPENCODE_REQUEST_TIMEOUT`), the third of four threads for instance, returns `PLUE_ERR_UNREACHABLE` (a timeout is never retried), and `plue_get_last_error()` says that the database is locked and that OpenCode may still apply the write once the lock ends. A call that is not retried returns `PLUE_ERR_SERVER` when its one attempt meets the lock (after about 5 s). While the connection's retry budget is spent (20 retries, one more each second), calls fail at once instead of retrying. The sidecar and `plue host` read the settings from their environment (`OPENCODE_STORAGE_RETRY_BUDGET`, `OPENCODE_RETRY_TOKENS`...; see docs/retries.md).",
    "",
    "## Session functions",
    ""
  )
  for (const f of Functions as ReadonlyArray<BridgedFunction>) {
    push(`### \`${f.name}\``, "", "```c", `${signature(f)};`, "```", "", f.summary, "")
    if (f.details !== undefined) push("```", ...f.details, "```", "")
    for (const s of f.strings) push(`- \`${s.name}\`: ${s.doc}${s.nullable ? " (may be NULL)" : " (not NULL)"}.`)
    push(`- Returns ${f.returns}`, "")
  }
  const groups: Array<[string, string]> = [
    ["lifecycle", "Starting and stopping"],
    ["errors", "Errors"],
    ["memory", "Memory"],
    ["events", "Events"],
    ["version", "Version"]
  ]
  push("## Library functions", "", "| function | does |", "|---|---|")
  for (const [group] of groups) {
    for (const f of LibraryFunctions.filter((f) => f.group === group)) push(`| \`${f.signature}\` | ${f.summary} |`)
  }
  push(
    "",
    "### Events",
    "",
    "Each event is one JSON object; its `_tag` says its kind, and the header names every kind as a string macro (`PLUE_EVENT_TAG(PLUE_EVENT_PROGRESS)` is the text `\"_tag\":\"Progress\"`, for `strstr`). New kinds may be added: ignore the ones you do not know.",
    "",
    "| `_tag` | macro | carries |",
    "|---|---|---|"
  )
  for (const k of EventKinds) push(`| \`${k.tag}\` | \`PLUE_EVENT_${k.name}\` | ${k.doc.replace(/\|/g, "\\|")} |`)
  push(
    "",
    "`Progress` events come from this host's own operations (its calls, from any thread; not from other clients), one per phase change of each operation, in order with the other events: an operation's `done` comes after the `Created` / `Updated` / `Deleted` it caused. Operations refused before they start (a NULL, destroyed or made-up handle, a session known to be deleted) publish none. Phases, in the order an operation goes through them:",
    "",
    "| phase | macro | means |",
    "|---|---|---|"
  )
  for (const p of ProgressPhases) push(`| \`${p.phase}\` | \`PLUE_PROGRESS_${p.name}\` | ${p.doc.replace(/\|/g, "\\|")} |`)
  push(
    "",
    "For example, `plue_session_initialize` on a model gives `{\"_tag\":\"Progress\",\"opId\":7,\"sessionId\":\"ses_...\",\"kind\":\"initialize\",\"phase\":\"queued\"}`, then `sending`, `waiting` (OpenCode's `session.status` busy), `retrying` with `attempt` and `reason` each time OpenCode retries the model (its `session.status` retry), and `done`. A call whose request is retried after a connection failure (refused, reset) or a 502/503/504 reports `retrying` with `attempt` 1, 2, ... before each retry.",
    "",
    "## Result codes",
    "",
    "| code | value | meaning (`plue_errstr`) |",
    "|---|---|---|"
  )
  for (const c of ErrorCodes) push(`| \`${c.name}\` | ${c.value} | ${c.doc} |`)
  push(
    "",
    "## Operations and the sidecar's wire format",
    "",
    "Each session function is one operation, the same number under both transports: the koffi callback's `op` under `plue host`, the `code` of a CALL frame for the sidecar.",
    "",
    "| function | op | macro |",
    "|---|---|---|"
  )
  for (const f of Functions) push(`| \`${f.name}\` | ${f.op} | \`${opMacro(f)}\` |`)
  push(
    "",
    `The operations, the frames and the koffi entry points together are the bridge protocol (\`PLUE_API_VERSION\`, ${API_VERSION} in this header); it changes whenever one of them does (3 added \`plue_conflict_resolve\` and \`plue_bulk\`), so that a header never sends an operation the running plue does not know. Both sides check it before any call: \`plue host\` refuses a library built with a header of another protocol ("its plue.h speaks bridge protocol other than ${API_VERSION}; rebuild it with this plue's header"), and \`plue_init\` fails with \`PLUE_ERR_INTERNAL\` and a message naming both protocols when the sidecar speaks another one.`,
    "",
    `A frame is a ${WIRE_HEADER_SIZE}-byte little-endian header, then the bytes of string a, then of string b (UTF-8, no terminator):`,
    "",
    "| offset | type | field |",
    "|---|---|---|",
    "| 0 | u32 | length of the whole frame, header included |",
    "| 4 | u32 | kind |",
    "| 8 | u64 | call id (CALL, COMPLETE), else 0 |",
    "| 16 | i64 | value: the handle (CALL, MIRROR_*), the result value (COMPLETE), the protocol version (HELLO, READY) |",
    "| 24 | i32 | code: the operation number (CALL), the result code (COMPLETE, FAILED) |",
    "| 28 | i32 | byte length of a, -1 for NULL |",
    "| 32 | i32 | byte length of b, -1 for NULL |",
    "",
    "| kind | value | sent by | carries |",
    "|---|---|---|---|"
  )
  for (const k of WireKinds) push(`| \`${k.name}\` | ${k.value} | ${k.from} | ${k.doc.replace(/\|/g, "\\|")} |`)
  push("")
  return out.join("\n")
}
