/**
 * Generates `plue.h`, the single header a C host includes: the declarations from the API
 * description (`Api.ts`), then, under `PLUE_IMPLEMENTATION`, the C core from `c/plue.c` spliced
 * in, then the generated bodies of the API functions.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import {
  API_TABLE,
  API_VERSION,
  type BridgedFunction,
  BridgeEntries,
  CALL_PROTOTYPE,
  ErrorCodes,
  EventKinds,
  Functions,
  LibraryFunctions,
  OptionFields,
  ProgressPhases,
  VERSION,
  VERSION_NUMBER,
  WIRE_HEADER_SIZE,
  WIRE_MAX_FRAME,
  WireKinds
} from "./Api.js"

/**
 * Where the header's C core lives (a real `.c` file, compiled on its own by the tests).
 *
 * @since 0.1.0
 */
export const corePath = fileURLToPath(new URL("../c/plue.c", import.meta.url))

/** The line of `c/plue.c` below which everything is spliced into the header. */
const MARKER = "/* ==== spliced into plue.h below this line ==== */"

const comment = (lines: ReadonlyArray<string>, indent = ""): string =>
  [`${indent}/*`, ...lines.map((line) => (line ? `${indent} * ${line}` : `${indent} *`)), `${indent} */`].join("\n")

/** Words in lines of at most `width` characters, for a comment block. */
const wrap = (text: string, width = 92): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.replace(/\*\//g, "").split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  if (line !== "") lines.push(line)
  return lines
}

const cType = (f: BridgedFunction): string => f.result === "handle" ? "plue_session_t" : f.result === "json" ? "char *" : f.result === "void" ? "void" : "int"

const params = (f: BridgedFunction): string => {
  const list = [...(f.handle ? ["plue_session_t session"] : []), ...f.strings.map((s) => `const char *${s.name}`)]
  return list.length === 0 ? "void" : list.join(", ")
}

/** `plue_session_get_info` -> `PLUE__OP_SESSION_GET_INFO`. */
export const opMacro = (f: BridgedFunction): string => `PLUE__OP_${f.name.replace(/^plue_/, "").toUpperCase()}`

const head = (f: BridgedFunction): string => {
  const type = cType(f)
  return `PLUE_API ${type}${type.endsWith("*") ? "" : " "}${f.name}(${params(f)})`
}

/**
 * The C prototype of a bridged function (as in the header, without `PLUE_API`).
 *
 * @since 0.1.0
 */
export const signature = (f: BridgedFunction): string => head(f).replace(/^PLUE_API /, "")

const declaration = (f: BridgedFunction): string => {
  const lines = [
    `${f.name}: ${f.summary}`,
    "",
    ...(f.details !== undefined ? [...f.details.map((line) => line.replace(/\*\//g, "* /")), ""] : []),
    ...(f.handle ? ["session:   a handle from plue_session_create or plue_session_open."] : []),
    ...f.strings.map((s) => `${s.name}: ${s.doc}${s.nullable ? "" : " (not NULL)"}.`),
    `Returns:   ${f.returns}`,
    ...(f.result === "void" ? [] : ["On failure plue_get_last_error_code() and plue_get_last_error() say why."]),
    "Blocks the calling thread until done; never call it on the JavaScript main thread."
  ]
  return `${comment(lines)}\n${head(f)};`
}

/** The C body of one bridged function. */
const definition = (f: BridgedFunction): string => {
  const pointer = f.result === "handle" || f.result === "json"
  // A refused argument: record the error, return what this kind of function returns on failure.
  const reject = (code: string, message: string) =>
    pointer
      ? `{ plue__fail(${code}, "${f.name}: ${message}"); return NULL; }`
      : f.result === "void"
      ? `{ plue__fail(${code}, "${f.name}: ${message}"); return; }`
      : `return plue__fail(${code}, "${f.name}: ${message}");`
  const out: Array<string> = [`${head(f)} {`, "    plue__record rec;"]
  if (f.result !== "void") out.push("    int code;")
  if (f.handle) {
    // Like free(NULL): destroying NULL is a no-op.
    out.push(
      f.result === "void" ? "    if (session == NULL) return;" : `    if (session == NULL) ${reject("PLUE_ERR_INVALID_HANDLE", "the session handle is NULL")}`
    )
  }
  for (const s of f.strings) {
    if (!s.nullable) out.push(`    if (${s.name} == NULL) ${reject("PLUE_ERR_INVALID_ARGUMENT", `${s.name} is NULL`)}`)
    out.push(`    if (${s.name} != NULL && !plue__utf8_valid(${s.name})) ${reject("PLUE_ERR_INVALID_ARGUMENT", `${s.name} is not valid UTF-8`)}`)
  }
  if (f.mirrored) {
    out.push("    {")
    out.push("        char *warm;")
    out.push("        if (plue__warm_read(session, &warm)) return warm;")
    out.push("    }")
  }
  const a = f.strings[0]?.name ?? "NULL"
  const b = f.strings[1]?.name ?? "NULL"
  const call = `plue__invoke(${opMacro(f)}, ${f.handle ? "session" : "NULL"}, ${a}, ${b}, &rec)`
  if (f.result === "void") {
    out.push(`    (void)${call};`)
  } else {
    out.push(`    code = ${call};`)
    if (f.result === "handle") {
      out.push("    if (code != PLUE_OK) return NULL;")
      out.push("    return plue__handle_out(rec.value);")
    } else if (f.result === "json") {
      out.push("    if (code != PLUE_OK) return NULL;")
      out.push(`    if (rec.json == NULL) { plue__fail(PLUE_ERR_INTERNAL, "${f.name}: the bridge returned no JSON"); return NULL; }`)
      out.push("    return rec.json;")
    } else {
      out.push("    return code;")
    }
  }
  out.push("}")
  return out.join("\n")
}

const cString = (s: string): string => JSON.stringify(s)

const top = `/*
 * plue.h - plue ${VERSION}: drive OpenCode sessions from C.
 *
 * A single header. Include it wherever you need it, and in exactly one .c file write
 *
 *     #define PLUE_IMPLEMENTATION
 *     #include "plue.h"
 *
 * Quick start, in a program with its own main() (build: cc app.c -I<dir of plue.h> -lpthread):
 *
 *     int main(void) {
 *         if (plue_init(NULL) != 0) { printf("Error: %s\\n", plue_get_last_error()); return 1; }
 *         plue_session_t s = plue_session_create(NULL);
 *         if (!s) { printf("Error: %s\\n", plue_get_last_error()); return 1; }
 *         char *info = plue_session_get_info(s);
 *         printf("%s\\n", info);
 *         plue_free_json(info);
 *         plue_session_destroy(s);
 *         return plue_shutdown();
 *     }
 *
 * plue_init starts the sidecar, a child process running \`plue serve\` (found through
 * options->command, PLUE_COMMAND, or PATH), and talks to it over a socketpair. The same program
 * also runs under \`plue host\` when built as a shared library exporting plue_host_main: there
 * plue is bound before plue_host_main runs, and plue_init / plue_shutdown only count.
 *
 * Threads: any thread of the host may call any function, concurrently. A call blocks its thread
 * until the operation ends. Under \`plue host\`, never call a blocking function on the JavaScript
 * main thread (it fails with PLUE_ERR_WRONG_THREAD). Event callbacks run on a dispatcher thread of
 * plue's, one event at a time, in order; plue functions may be called from inside a callback.
 * A forked child cannot use its parent's plue: its calls fail with PLUE_ERR_NOT_BOUND until it
 * calls plue_init itself. plue installs no signal handler and never touches stdin or stdout.
 *
 * Ownership: every char * a function returns was allocated by this header's code and belongs to
 * the caller, who frees it with plue_free_json (and with nothing else). const char * results
 * (plue_get_last_error, plue_errstr, plue_version) belong to plue. Strings passed in are only
 * read during the call.
 *
 * Handles: a plue_session_t is an opaque number, not a pointer to memory: destroyed, double
 * destroyed or made-up handles fail with PLUE_ERR_INVALID_HANDLE and never crash.
 *
 * Errors: functions returning a pointer return NULL on failure; functions returning int return
 * 0 on success and a plue_error code otherwise. plue_get_last_error_code() and
 * plue_get_last_error() describe the last call made on the calling thread.
 *
 * Generated by @plue/ffi from its API description (src/Api.ts) and its C core (c/plue.c).
 * Do not edit: run \`npm run generate\`.
 */`

/**
 * The C core, as spliced into the header.
 *
 * @since 0.1.0
 */
export const core = (): string => {
  const source = readFileSync(corePath, "utf8")
  const at = source.indexOf(MARKER)
  if (at < 0) throw new Error(`${corePath} has no splice marker line`)
  return source.slice(at + MARKER.length).replace(/^\n+/, "")
}

/**
 * The text of `plue.h`.
 *
 * @since 0.1.0
 */
export const generateHeader = (): string => {
  const codes = ErrorCodes.map((c) => `${comment([c.doc], "    ")}\n    ${c.name} = ${c.value}`).join(",\n")
  const ops = Functions.map(declaration).join("\n\n")
  const library = (group: string) => LibraryFunctions.filter((f) => f.group === group).map((f) => `${comment(f.doc)}\nPLUE_API ${f.signature};`).join("\n\n")
  const options = OptionFields.map((f) => `    /* ${f.doc}. */\n    ${f.type}${f.type.endsWith("*") ? "" : " "}${f.name};`).join("\n")
  const opDefines = Functions.map((f) => `#define ${opMacro(f)} ${f.op}`).join("\n")
  const eventDefines = EventKinds.map((k) => `${comment(wrap(`${k.tag}: ${k.doc}.`))}\n#define PLUE_EVENT_${k.name} "${k.tag}"`).join("\n")
  const phaseDefines = ProgressPhases.map((p) => `/* ${p.doc.replace(/\*\//g, "")}. */\n#define PLUE_PROGRESS_${p.name} "${p.phase}"`).join("\n")
  const wireDefines = WireKinds.map((k) => `#define PLUE__WIRE_${k.name} ${k.value} /* ${k.from}: ${k.doc.replace(/\*\//g, "")} */`).join("\n")
  const tableFields = API_TABLE.fields.map(([name, type]) => `    ${type === "plue__call_fn *" ? "plue__call_fn" : type} ${name};`).join("\n")
  const errstr = ErrorCodes.map((c) => `    case ${c.name}: return ${cString(c.doc)};`).join("\n")
  const bodies = Functions.map(definition).join("\n\n")
  return `${top}
#ifndef PLUE_H
#define PLUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef PLUE_API
#define PLUE_API __attribute__((visibility("default")))
#endif

/* The version of this header; plue_version() and plue_version_number() give the runtime's. */
#define PLUE_VERSION "${VERSION}"
/* The same version as one number: 1000 * major + minor. */
#define PLUE_VERSION_NUMBER ${VERSION_NUMBER}

/* An open session handle (opaque; not a pointer to memory). */
typedef struct plue_session *plue_session_t;

/* Result codes. Numbers never change; new codes may be appended. */
typedef enum plue_error {
${codes}
} plue_error;
/* The former name of plue_error. */
typedef plue_error plue_error_t;

/* Receives one session event as JSON, {"_tag":KIND, ...} with KIND one of the PLUE_EVENT_*
 * strings below (ignore kinds you do not know: new ones may be added). The string is valid only
 * during the call. */
typedef void (*plue_event_callback)(const char *event_json, void *userdata);

/* Event kinds: the value of an event's "_tag". */
${eventDefines}
/* Matches an event kind inside event_json: strstr(event_json, PLUE_EVENT_TAG(PLUE_EVENT_PROGRESS)). */
#define PLUE_EVENT_TAG(kind) "\\"_tag\\":\\"" kind "\\""

/* The phases of a Progress event (its "phase"), in the order an operation goes through them. */
${phaseDefines}

/* How plue_init starts and connects the sidecar. Zero it, set size to sizeof(plue_options), and
 * set what you need: fields left NULL or 0 take their defaults. Fields are only ever appended. */
typedef struct plue_options {
${options}
} plue_options;

${library("lifecycle")}

${ops}

${library("errors")}

${library("memory")}

${library("events")}

${library("version")}

${comment(["plue_host_main: defined by a host library run with `plue host`, which calls it off its main thread."])}
PLUE_API int plue_host_main(int argc, char **argv);

/* ---- Bridge side: used by @plue/ffi and the plue sidecar, not by hosts. ---- */
/* The bridge protocol version, checked when the bridge binds or the sidecar says hello. */
#define PLUE__API_VERSION ${API_VERSION}
#define PLUE_API_VERSION PLUE__API_VERSION
/* Operation numbers (the koffi callback's op, the CALL frame's code). */
${opDefines}
/* Sidecar frames: a ${WIRE_HEADER_SIZE}-byte little-endian header {u32 length, u32 kind, u64 id, i64 value,
 * i32 code, i32 length of a (-1: NULL), i32 length of b (-1: NULL)}, then the bytes of a and b. */
#define PLUE__WIRE_HEADER_SIZE ${WIRE_HEADER_SIZE}
#define PLUE__WIRE_MAX_FRAME ${WIRE_MAX_FRAME}
${wireDefines}
typedef ${CALL_PROTOTYPE.replace(/^int plue__call_fn\(/, "int (*plue__call_fn)(")};
typedef struct ${API_TABLE.name} {
${tableFields}
} ${API_TABLE.name};
${BridgeEntries.map((e) => `PLUE_API ${e.prototype};`).join("\n")}

#ifdef __cplusplus
}
#endif

#endif /* PLUE_H */

#ifdef PLUE_IMPLEMENTATION
#ifndef PLUE__IMPLEMENTED
#define PLUE__IMPLEMENTED

/* ---- from c/plue.c ---- */
${core()}
/* ---- generated from src/Api.ts ---- */
#ifdef __cplusplus
extern "C" {
#endif

${bodies}

PLUE_API const char *plue_errstr(int code) {
    switch (code) {
${errstr}
    default: return "unknown result code";
    }
}

PLUE_API const char *plue_version(void) { return "${VERSION}"; }

PLUE_API int plue_version_number(void) { return ${VERSION_NUMBER}; }

#ifdef __cplusplus
}
#endif

#endif /* PLUE__IMPLEMENTED */
#endif /* PLUE_IMPLEMENTATION */
`
}
