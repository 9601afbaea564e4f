/**
 * Generates the C API reference (`docs/c-api.md`) from the same description as the header.
 *
 * @since 0.1.0
 */
import { API_VERSION, ErrorCodes, Functions, VERSION } from "./Api.js"

const signature = (f: (typeof Functions)[number]): string => {
  const type = f.result === "handle" ? "plue_session_t " : f.result === "json" ? "char *" : "int "
  const args = [...(f.handle ? ["plue_session_t session"] : []), ...f.strings.map((s) => `const char *${s.name}`)]
  return `${type}${f.name}(${args.length ? args.join(", ") : "void"});`
}

/**
 * The Markdown reference.
 *
 * @since 0.1.0
 */
export const generateReference = (): string => {
  const out: Array<string> = []
  out.push("# C API reference")
  out.push("")
  out.push(`Generated from \`packages/ffi/src/Api.ts\`, like \`packages/ffi/include/plue.h\` (plue ${VERSION}, bridge protocol ${API_VERSION}). Do not edit: run \`npm run generate\`.`)
  out.push("")
  out.push("## Using it")
  out.push("")
  out.push("Include `plue.h` wherever you need it and define `PLUE_IMPLEMENTATION` in exactly one `.c` file before including it. Build your host as a shared library that exports `int plue_host_main(int argc, char **argv)` and run it with `plue host ./libhost.so [args...]` (it connects with `--url`/`OPENCODE_URL` and `--password`/`OPENCODE_SERVER_PASSWORD`, or starts a local OpenCode server). `plue host --debug` reports strings never freed and handles never destroyed.")
  out.push("")
  out.push("```sh")
  out.push("cc -std=c11 -fPIC -shared -I packages/ffi/include -o libhost.so host.c -lpthread")
  out.push("plue host ./libhost.so")
  out.push("```")
  out.push("")
  out.push("- **Threads**: any host thread may call any function, concurrently; a call blocks its thread until the operation ends. A blocking call on the JavaScript main thread fails at once with `PLUE_ERR_WRONG_THREAD`. Event callbacks run on plue's own dispatcher thread, one at a time, in order, and may call plue functions.")
  out.push("- **Ownership**: every `char *` returned is the caller's, freed with `plue_free_json`. `const char *` results belong to plue. Input strings are only read during the call and must be valid UTF-8.")
  out.push("- **Handles** are opaque numbers, never pointers into memory: NULL, destroyed, double-destroyed and made-up handles fail with `PLUE_ERR_INVALID_HANDLE`.")
  out.push("- **Errors**: pointer results are NULL on failure, `int` results are 0 on success and a `plue_error_t` otherwise; `plue_get_last_error_code()` / `plue_get_last_error()` describe the calling thread's last call.")
  out.push("")
  out.push("## Session functions")
  out.push("")
  for (const f of Functions) {
    out.push(`### \`${f.name}\``)
    out.push("")
    out.push("```c")
    out.push(signature(f))
    out.push("```")
    out.push("")
    out.push(f.summary)
    out.push("")
    for (const s of f.strings) out.push(`- \`${s.name}\`: ${s.doc}${s.nullable ? " (may be NULL)" : " (not NULL)"}.`)
    out.push(`- Returns ${f.returns}`)
    out.push("")
  }
  out.push("### `plue_session_destroy`")
  out.push("")
  out.push("```c\nvoid plue_session_destroy(plue_session_t session);\n```")
  out.push("")
  out.push("Closes the handle; in-flight calls on it fail with `PLUE_ERR_INVALID_HANDLE`. The session stays on the server.")
  out.push("")
  out.push("## Errors, memory, events, version")
  out.push("")
  out.push("| function | does |")
  out.push("|---|---|")
  out.push("| `const char *plue_get_last_error(void)` | the calling thread's last message (\"\" after a success), at most 1023 bytes, owned by plue, never NULL |")
  out.push("| `int plue_get_last_error_code(void)` | the calling thread's last `plue_error_t` |")
  out.push("| `void plue_free_json(char *json)` | frees a string plue returned; NULL is ignored |")
  out.push("| `int plue_event_subscribe(plue_event_callback cb, void *userdata)` | calls `cb(event_json, userdata)` for every session event; returns an id > 0 or a negative `plue_error_t` |")
  out.push("| `int plue_event_unsubscribe(int id)` | stops it; when it returns the callback is not running (unless called from inside it) |")
  out.push("| `const char *plue_version(void)` | the runtime version; compare with the `PLUE_VERSION` macro |")
  out.push("")
  out.push("Event JSON carries `_tag`: `Created`, `Updated` (with `changes`), `Deleted`, `Shared` (with `url`), `Unshared`, `Aborted`, `Status` (with `status.type`), `Error`, or `Lagged` (`missed` events were dropped for a subscriber that fell behind).")
  out.push("")
  out.push("## Result codes")
  out.push("")
  out.push("| code | value | meaning |")
  out.push("|---|---|---|")
  for (const c of ErrorCodes) out.push(`| \`${c.name}\` | ${c.value} | ${c.doc} |`)
  out.push("")
  return out.join("\n")
}
