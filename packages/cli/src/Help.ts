/**
 * `plue`'s help, in the manner of `gh`: the full command, one line saying what it does, its flags,
 * examples; and the first check of a command line, so that a mistake is one line saying what to
 * type instead. It needs nothing but the command line: help never loads a command's code.
 *
 * @since 0.1.0
 */

/**
 * The version `plue --version` prints.
 *
 * @since 0.1.0
 */
export const version = "0.1.0"

/**
 * A flag as help shows it and as the command line check knows it.
 *
 * @since 0.1.0
 */
export interface Flag {
  readonly long: string
  readonly short?: string | undefined
  /** The value's placeholder; a flag without one is a switch. */
  readonly value?: string | undefined
  /** Values that must be whole numbers. */
  readonly integer?: boolean | undefined
  readonly description: string
}

/**
 * One command's help.
 *
 * @since 0.1.0
 */
export interface CommandHelp {
  /** The words after `plue`, e.g. `["session", "get"]`. */
  readonly path: ReadonlyArray<string>
  readonly summary: string
  /** Positional arguments, e.g. `ID`; `ARGS...` takes any number. */
  readonly args?: ReadonlyArray<readonly [name: string, description: string]> | undefined
  readonly flags?: ReadonlyArray<Flag> | undefined
  /** Extra paragraph under the summary. */
  readonly details?: string | undefined
  readonly examples?: ReadonlyArray<string> | undefined
  /** Known to the command line check, left out of the lists of commands (internal). */
  readonly hidden?: boolean | undefined
}

const url: Flag = {
  long: "url",
  short: "u",
  value: "URL",
  description: "OpenCode server to use (default: $OPENCODE_URL, else start a local one)"
}
const password: Flag = {
  long: "password",
  short: "p",
  value: "PASSWORD",
  description: "Server password, HTTP basic auth as user opencode (default: $OPENCODE_SERVER_PASSWORD)"
}
const directory: Flag = {
  long: "directory",
  short: "d",
  value: "DIR",
  description: "Project directory to work in (default: $OPENCODE_DIRECTORY, else the server's)"
}
const json: Flag = { long: "json", short: "j", description: "Print JSON for machines instead of text for people" }

/**
 * The flags every command that talks to OpenCode takes.
 *
 * @since 0.1.0
 */
export const connectionFlags: ReadonlyArray<Flag> = [url, password, directory]

const ID = ["ID", "A session id, like ses_df557fc75ffe8uAWx0P0wTjSPl"] as const
const MORE = ["ID...", "More session ids: all of them run as one batch, 8 at a time"] as const
const BATCH = "With several ids: one line per session and a summary (--json: the results array); the exit\n" +
  "code is that of the worst failure (worst first: 4 unauthorized, 5 unreachable, 1, 2, 3 not found)."
const EX = "ses_df557fc75ffe8uAWx0P0wTjSPl"
const batchFlags: ReadonlyArray<Flag> = [
  { long: "concurrency", value: "N", integer: true, description: "With several sessions: at most N requests at once (default 8)" },
  { long: "stop-on-error", description: "With several sessions: start nothing more after a failure (the rest: skipped)" }
]

/**
 * The help of every leaf command.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<CommandHelp> = [
  {
    path: ["session", "create"],
    summary: "Create a session",
    flags: [
      { long: "parent", value: "ID", description: "Create it as a child of this session" },
      { long: "title", short: "t", value: "TEXT", description: "Its title (default: OpenCode's)" },
      { long: "queue", description: "With the server unreachable, queue it in the outbox (prints the op id too)" },
      json,
      ...connectionFlags
    ],
    examples: [`plue session create --title "Refactor the parser"`, `plue session create --parent ${EX} -j`]
  },
  {
    path: ["session", "list"],
    summary: "List every session, newest update first (never cut at 100)",
    flags: [{ long: "roots", short: "r", description: "Only sessions without a parent" }, json, ...connectionFlags],
    examples: ["plue session list", "plue session list --roots --json"]
  },
  {
    path: ["session", "get"],
    summary: "Show one session",
    details: "With an outbox for this server (plue outbox list), it is replayed first; the session is then\n" +
      "shown as visible here, with what still waits for it (pending).",
    args: [ID],
    flags: [json, ...connectionFlags],
    examples: [`plue session get ${EX}`]
  },
  {
    path: ["session", "title"],
    summary: "Set the title of one or more sessions",
    details: BATCH,
    args: [ID, MORE, ["TEXT", "The new title (the last argument)"]],
    flags: [
      { long: "queue", description: "One session: with the server unreachable, queue it in the outbox (prints the op id)" },
      ...batchFlags,
      json,
      ...connectionFlags
    ],
    examples: [`plue session title ${EX} "Parser, take two"`, `plue session title ${EX} ses_df557fc75ffe8uAWx0P0wTjSPm "Archived"`]
  },
  {
    path: ["session", "init"],
    summary: "Run OpenCode's init (AGENTS.md) turn on a model; waits for it to end",
    args: [ID],
    flags: [
      { long: "provider", value: "PROVIDER", description: "Provider id, e.g. anthropic (required)" },
      { long: "model", short: "m", value: "MODEL", description: "Model id, e.g. claude-sonnet-4 (required)" },
      json,
      ...connectionFlags
    ],
    examples: [`plue session init ${EX} --provider anthropic --model claude-sonnet-4`]
  },
  {
    path: ["session", "delete"],
    summary: "Delete sessions and all their children",
    details: "Name the sessions, or select them from the server's listing (--older-than and --title-matching\n" +
      "together: the sessions that match both; a child goes with its selected parent).\n" + BATCH,
    args: [["ID...", "Session ids (one or more), unless selected with the flags below"]],
    flags: [
      { long: "older-than", value: "DURATION", description: "Every session not updated for this long: 30m, 12h, 7d, 2w, \"2 weeks\"" },
      { long: "title-matching", value: "TEXT", description: "Every session whose title contains TEXT (any case)" },
      { long: "dry-run", description: "Print what would be deleted; delete nothing" },
      ...batchFlags,
      { long: "queue", description: "One session: with the server unreachable, queue it in the outbox (prints the op id)" },
      json,
      ...connectionFlags
    ],
    examples: [`plue session delete ${EX}`, "plue session delete --older-than 30d --dry-run", `plue session delete --title-matching "scratch" -j`]
  },
  {
    path: ["session", "abort"],
    summary: "Stop whatever one or more sessions are running",
    details: BATCH,
    args: [ID, MORE],
    flags: [...batchFlags, json, ...connectionFlags],
    examples: [`plue session abort ${EX}`]
  },
  {
    path: ["session", "share"],
    summary: "Share one or more sessions and print their URLs",
    details: "Through plue's own share service it also prints the owner secret (it revokes the share) and\n" +
      "the expiry. With no --url, the share service runs inside this command: the link stops\n" +
      "working when it ends (use `plue share-server` for links that last).\n" + BATCH,
    args: [ID, MORE],
    flags: [...batchFlags, json, ...connectionFlags],
    examples: [`plue session share ${EX}`, `plue session share ${EX} ses_df557fc75ffe8uAWx0P0wTjSPm --json`]
  },
  {
    path: ["session", "unshare"],
    summary: "Stop sharing one or more sessions",
    details: BATCH,
    args: [ID, MORE],
    flags: [...batchFlags, json, ...connectionFlags],
    examples: [`plue session unshare ${EX}`]
  },
  {
    path: ["outbox", "list"],
    summary: "List queued operations, conflicts and dead letters",
    flags: [json, ...connectionFlags],
    examples: ["plue outbox list --url http://127.0.0.1:4096"]
  },
  {
    path: ["outbox", "flush"],
    summary: "Replay the outbox now; exits 1 with a line per operation left",
    flags: [json, ...connectionFlags],
    examples: ["plue outbox flush --url http://127.0.0.1:4096"]
  },
  {
    path: ["outbox", "drop"],
    summary: "Drop a queued operation (rolling it back) or acknowledge a dead letter",
    args: [["OPID", "An operation id from plue outbox list"]],
    flags: connectionFlags,
    examples: ["plue outbox drop op_233f77ffe002aBcDeFgHiJkLmN"]
  },
  {
    path: ["outbox", "resolve"],
    summary: "Resolve a title conflict, then replay",
    args: [["OPID", "An operation id from plue outbox list"]],
    flags: [
      { long: "local", description: "Keep this side's title" },
      { long: "remote", description: "Keep the server's title" },
      { long: "text", value: "TEXT", description: "Send this title instead" },
      ...connectionFlags
    ],
    examples: ["plue outbox resolve op_233f77ffe002aBcDeFgHiJkLmN --local"]
  },
  {
    path: ["watch"],
    summary: "Print the sessions at connect, then follow session events live until Ctrl-C",
    details: "First one snapshot of the sessions at connect, newest update first; then the events from this and\n" +
      "every other client, as they happen. Connection state and why a connection failed (with the next\n" +
      "attempt's time) go to stderr.",
    flags: [{ long: "json", short: "j", description: "One JSON object per line" }, ...connectionFlags],
    examples: ["plue watch", "plue watch --json | jq .session.title"]
  },
  {
    path: ["host"],
    summary: "Run a C host library's plue_host_main against the bridge and exit with its status",
    details: "Binds the plue C API into LIB and calls plue_host_main(argc, argv) off the main thread.\n" +
      "Every handle is destroyed and every callback unregistered on exit.",
    args: [["LIB", "A shared library built with plue.h, exporting plue_host_main"], ["ARGS...", "Arguments passed on to plue_host_main"]],
    flags: [{ long: "debug", description: "On exit, report strings never freed and handles never destroyed" }, ...connectionFlags],
    examples: ["plue host ./libhost.so", "plue host --debug ./libhost.so first-arg"]
  },
  {
    path: ["share-server"],
    summary: "Serve plue's OpenCode share service until Ctrl-C",
    details: "The routes OpenCode calls at its enterprise.url, and a viewer at each share URL.",
    flags: [
      { long: "port", value: "N", integer: true, description: "Port to listen on; 0 picks a free one (default: 4500)" },
      { long: "host", value: "HOST", description: "Address to listen on (default: 127.0.0.1)" },
      { long: "public-url", value: "URL", description: "Base of share URLs as people reach them (default: the listening address)" },
      { long: "data", value: "DIR", description: "Where shares are stored (default: $PLUE_SHARE_DIR, else $XDG_DATA_HOME/plue/shares)" },
      { long: "store", value: "URL", description: "Keep shares in PostgreSQL, postgres://USER:PASSWORD@HOST:PORT/DB (default: $PLUE_SHARE_STORE, else files)" },
      { long: "ttl", value: "DURATION", description: "How long a share lives: \"24 hours\", \"30 minutes\", or \"never\" (default: 24 hours)" }
    ],
    examples: ["plue share-server --port 4500 --public-url https://share.example.com --data /var/lib/plue-shares"]
  },
  {
    path: ["serve"],
    hidden: true,
    summary: "Internal: the sidecar plue_init (plue.h) starts for a C program with its own main()",
    details: "Serves the C API over the socket on fd N; exits when the socket closes. Not run by hand.",
    flags: [{ long: "fd", value: "N", integer: true, description: "The socket to the C program (default: 3)" }, ...connectionFlags]
  },
  {
    path: ["demo"],
    summary: "Create, title, list, share and delete a session, printing each step",
    flags: connectionFlags,
    examples: ["plue demo", "plue demo --url http://127.0.0.1:4096"]
  }
]

/**
 * The command groups: `plue` and `plue session`.
 *
 * @since 0.1.0
 */
export const groups: ReadonlyArray<{ readonly path: ReadonlyArray<string>; readonly summary: string; readonly details?: string }> = [
  {
    path: [],
    summary: "Drive OpenCode sessions from the terminal",
    details: "Connects to --url / $OPENCODE_URL, or, with no URL, starts a local OpenCode server for the\n" +
      "command and stops it after. Exit codes: 0 ok, 1 internal failure, 2 usage error,\n" +
      "3 session not found, 4 password refused, 5 unreachable, 130 interrupted."
  },
  { path: ["session"], summary: "Manage OpenCode sessions" },
  {
    path: ["outbox"],
    summary: "The durable outbox of offline writes",
    details: "Operations queued while the server was unreachable (--queue, PLUE_OUTBOX=1), kept under\n" +
      "$XDG_STATE_HOME/plue/outbox/ per server URL and directory (give the same --url), or, with no\n" +
      "URL, per directory of the local server."
  }
]

/** Flags the root command takes. */
const rootFlags: ReadonlyArray<Flag> = [
  { long: "version", short: "v", description: "Print plue's version" },
  { long: "completions", value: "SHELL", description: "Print a completion script for bash, zsh, fish or sh" }
]

const helpFlag: Flag = { long: "help", short: "h", description: "Show help for the command" }

/**
 * Whether help may use colour: stdout is a terminal and `NO_COLOR` is unset.
 *
 * @since 0.1.0
 */
export const colorEnabled = (stdoutIsTty: boolean, env: Record<string, string | undefined>): boolean =>
  stdoutIsTty && (env.NO_COLOR === undefined || env.NO_COLOR === "")

const full = (path: ReadonlyArray<string>) => ["plue", ...path].join(" ")
/** The commands under `path`; `all` includes the hidden ones (known, not listed). */
const childrenOf = (path: ReadonlyArray<string>, all = false) => {
  const depth = path.length
  const names = new Map<string, string>()
  for (const entry of [...groups, ...commands]) {
    if (!all && "hidden" in entry && entry.hidden) continue
    if (entry.path.length === depth + 1 && path.every((p, i) => entry.path[i] === p)) names.set(entry.path[depth]!, entry.summary)
  }
  return [...names]
}
const isGroup = (path: ReadonlyArray<string>) => groups.some((g) => g.path.join(" ") === path.join(" "))
const leaf = (path: ReadonlyArray<string>) => commands.find((c) => c.path.join(" ") === path.join(" "))

const flagLabel = (flag: Flag) => `${flag.short ? `-${flag.short}, ` : "    "}--${flag.long}${flag.value ? ` ${flag.value}` : ""}`

const columns = (rows: ReadonlyArray<readonly [string, string]>) => {
  const width = Math.max(...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`)
}

/**
 * The usage line of a leaf command: `plue session get ID [flags]`.
 *
 * @since 0.1.0
 */
export const usage = (command: CommandHelp): string => {
  const args = (command.args ?? []).map(([name]) => (name.endsWith("...") ? `[${name}]` : name))
  const required = (command.flags ?? []).filter((f) => f.description.endsWith("(required)"))
    .map((f) => `--${f.long} ${f.value}`)
  return [full(command.path), ...args, ...required, "[flags]"].join(" ")
}

/**
 * The help text of a command or group (no trailing newline), at most 50 lines.
 *
 * @since 0.1.0
 */
export const render = (path: ReadonlyArray<string>, color: boolean): string => {
  const heading = (text: string) => (color ? `\x1b[1m${text}\x1b[22m` : text)
  const lines: Array<string> = []
  const command = leaf(path)
  if (command) {
    lines.push(command.summary, "")
    if (command.details) lines.push(command.details, "")
    lines.push(heading("USAGE"), `  ${usage(command)}`, "")
    if (command.args?.length) lines.push(heading("ARGUMENTS"), ...columns(command.args), "")
    lines.push(heading("FLAGS"), ...columns([...(command.flags ?? []), helpFlag].map((f) => [flagLabel(f), f.description])), "")
    if (command.examples?.length) lines.push(heading("EXAMPLES"), ...command.examples.map((e) => `  $ ${e}`), "")
  } else {
    const group = groups.find((g) => g.path.join(" ") === path.join(" "))!
    lines.push(group.summary, "")
    if (group.details) lines.push(group.details, "")
    lines.push(heading("USAGE"), `  ${full(path)} <command> [flags]`, "")
    lines.push(heading("COMMANDS"), ...columns(childrenOf(path)), "")
    lines.push(heading("FLAGS"), ...columns([...(path.length === 0 ? rootFlags : []), helpFlag].map((f) => [flagLabel(f), f.description])), "")
    lines.push(`Run '${full(path)} <command> --help' for more about a command.`)
  }
  return lines.join("\n").trimEnd()
}

/**
 * What to do with a command line before the framework parses it.
 *
 * @since 0.1.0
 */
export type Check =
  | { readonly _tag: "Help"; readonly path: ReadonlyArray<string> }
  | { readonly _tag: "Usage"; readonly message: string }
  | { readonly _tag: "Parse"; readonly path: ReadonlyArray<string> }

const usageError = (message: string): Check => ({ _tag: "Usage", message })

/**
 * Checks the shape of a command line (the words after `plue`): which command it names, that every
 * flag exists and has its value, that the arguments are all there. Values themselves (a directory
 * that exists, a duration, a URL) are the framework's to parse.
 *
 * @since 0.1.0
 */
export const check = (argv: ReadonlyArray<string>): Check => {
  const end = argv.indexOf("--")
  const words = end === -1 ? argv : argv.slice(0, end)
  if (words.includes("--help") || words.includes("-h")) {
    const path: Array<string> = []
    for (const word of words) {
      if (word.startsWith("-")) continue
      if (!childrenOf(path, true).some(([name]) => name === word)) break
      path.push(word)
    }
    return { _tag: "Help", path }
  }
  // The command path.
  const path: Array<string> = []
  let i = 0
  while (isGroup(path)) {
    const word = argv[i]
    if (word === undefined) {
      return path.length === 0
        ? { _tag: "Help", path }
        : usageError(`'${full(path)}' needs a command: ${childrenOf(path).map(([n]) => n).join(", ")}; run '${full(path)} --help'`)
    }
    if (word.startsWith("-")) {
      // Only the root's own flags come before a command.
      if (path.length === 0 && ["--version", "-v", "--completions", "--log-level", "--wizard"].some((f) => word === f || word.startsWith(`${f}=`))) {
        return { _tag: "Parse", path }
      }
      return usageError(`unknown flag '${word}' for '${full(path)}'; a command comes first: ${childrenOf(path).map(([n]) => n).join(", ")}`)
    }
    if (!childrenOf(path, true).some(([name]) => name === word)) {
      return usageError(`unknown command '${word}' for '${full(path)}'; one of: ${childrenOf(path).map(([n]) => n).join(", ")} (run '${full(path)} --help')`)
    }
    path.push(word)
    i++
  }
  const command = leaf(path)!
  const flags = [...(command.flags ?? [])]
  const more = `run '${full(path)} --help'`
  const positionals: Array<string> = []
  const seen = new Set<string>()
  for (; i < argv.length; i++) {
    const word = argv[i]!
    if (word === "--") {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (word.startsWith("-") && word.length > 1) {
      const eq = word.indexOf("=")
      const name = eq === -1 ? word : word.slice(0, eq)
      const flag = flags.find((f) => name === `--${f.long}` || (f.short !== undefined && name === `-${f.short}`))
      if (flag === undefined) return usageError(`unknown flag '${name}' for '${full(path)}'; ${more} for its flags`)
      if (seen.has(flag.long)) return usageError(`--${flag.long} given twice; give it once`)
      seen.add(flag.long)
      if (flag.value === undefined) {
        if (eq !== -1) return usageError(`--${flag.long} takes no value; write just --${flag.long}`)
        continue
      }
      let value: string
      if (eq !== -1) value = word.slice(eq + 1)
      else if (i + 1 < argv.length) value = argv[++i]!
      else return usageError(`--${flag.long} needs a value: --${flag.long} ${flag.value}`)
      if (flag.integer && !/^\d+$/.test(value)) {
        return usageError(`--${flag.long} takes a whole number, not '${value}': e.g. --${flag.long} 4500`)
      }
      continue
    }
    positionals.push(word)
  }
  const args = command.args ?? []
  const repeated = args.some(([name]) => name.endsWith("..."))
  const required = args.filter(([name]) => !name.endsWith("..."))
  if (positionals.length < required.length) {
    return usageError(`missing ${required.slice(positionals.length).map(([n]) => n).join(" and ")}; usage: ${usage(command)}`)
  }
  if (!repeated && positionals.length > required.length) {
    return usageError(`unexpected argument '${positionals[required.length]}'; usage: ${usage(command)} (quote text with spaces)`)
  }
  for (const flag of flags) {
    if (flag.description.endsWith("(required)") && !seen.has(flag.long)) {
      return usageError(`missing --${flag.long} ${flag.value}; usage: ${usage(command)}`)
    }
  }
  return { _tag: "Parse", path }
}
