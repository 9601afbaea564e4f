import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import { assert, describe, it } from "@effect/vitest"
import * as HashMap from "effect/HashMap"
import * as Help from "../src/Help.js"
import { session } from "../src/commands/session.js"
import { outbox } from "../src/commands/outbox.js"
import { plue } from "../src/main.js"

/** The flags (long and short) the framework parses for a command, read from its own help. */
const frameworkFlags = (descriptor: CommandDescriptor.Command<unknown>): Set<string> => {
  // eslint-disable-next-line no-control-regex
  const text = HelpDoc.toAnsiText(CommandDescriptor.getHelp(descriptor, CliConfig.defaultConfig)).replace(/\x1b\[[0-9;]*m/g, "")
  return new Set([...text.matchAll(/(?<![\w-])(--[a-z][a-z-]*|-[a-z])(?![\w-])/g)].map((m) => m[1]!))
}

describe("Help.ts describes the commands the framework parses", () => {
  // Every command the framework knows, by its path ("list" is both `session list` and `outbox list`).
  const known = new Map<string, CommandDescriptor.Command<unknown>>()
  const gather = (prefix: ReadonlyArray<string>, entries: ReadonlyArray<readonly [string, CommandDescriptor.Command<unknown>]>) => {
    for (const [name, descriptor] of entries) {
      const path = [...prefix, name].join(" ")
      if (!known.has(path)) known.set(path, descriptor)
    }
  }
  gather([], HashMap.toEntries(Command.getSubcommands(plue)))
  gather(["session"], HashMap.toEntries(Command.getSubcommands(session)))
  gather(["outbox"], HashMap.toEntries(Command.getSubcommands(outbox)))
  const find = (path: ReadonlyArray<string>) => known.get(path.join(" "))
  /** The framework's own built-in flags, answered by Help.ts or passed through at the root. */
  const builtIn = new Set(["--completions", "--log-level", "--wizard", "--help", "-h", "--version"])

  for (const command of Help.commands) {
    it(`plue ${command.path.join(" ")}: the same flags and short flags`, () => {
      const descriptor = find(command.path)
      assert.isDefined(descriptor, `no such command in main.ts: ${command.path.join(" ")}`)
      const documented = new Set((command.flags ?? []).flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]))
      const parsed = new Set([...frameworkFlags(descriptor!)].filter((f) => !builtIn.has(f)))
      for (const flag of documented) assert.isTrue(parsed.has(flag), `${flag} is in the help but not parsed`)
      for (const flag of parsed) assert.isTrue(documented.has(flag), `${flag} is parsed but not in the help`)
    })

    it(`plue ${command.path.join(" ")} --help prints every flag the parser takes, and -h, --help`, () => {
      const text = Help.render(command.path, false)
      assert.include(text, `USAGE\n  ${Help.usage(command)}`)
      const printed = new Set([...text.matchAll(/(?<![\w-])(--[a-z][a-z-]*|-[a-z])(?![\w-])/g)].map((m) => m[1]!))
      for (const flag of frameworkFlags(find(command.path)!)) {
        if (flag === "--help" || flag === "-h" || !builtIn.has(flag)) assert.isTrue(printed.has(flag), `${flag} is parsed but its help does not print it`)
      }
      assert.include(text, "-h, --help")
      assert.isAtMost(text.split("\n").length, 50)
    })
  }
})

describe("Help.check, the first look at a command line", () => {
  it("the root's own flags go to the parser; any other flag before a command is a usage error", () => {
    for (const argv of [["--completions", "bash"], ["--completions=zsh"], ["-v", "extra"], ["--log-level", "debug", "session", "list"]]) {
      assert.deepStrictEqual(Help.check(argv), { _tag: "Parse", path: [] }, argv.join(" "))
    }
    const before = Help.check(["--json", "session", "list"])
    assert.strictEqual(before._tag, "Usage")
    assert.match((before as { message: string }).message, /^unknown flag '--json' for 'plue'; a command comes first: session, /)
    const inGroup = Help.check(["session", "-j", "list"])
    assert.match((inGroup as { message: string }).message, /^unknown flag '-j' for 'plue session'; a command comes first: create, list/)
  })

  it("after --, every word is an argument, even one that looks like a flag", () => {
    assert.deepStrictEqual(Help.check(["session", "title", "ses_abc", "--", "--not-a-flag"]), { _tag: "Parse", path: ["session", "title"] })
    const extra = Help.check(["session", "get", "--", "ses_abc", "-x"])
    assert.match((extra as { message: string }).message, /^unexpected argument '-x'; usage: plue session get ID \[flags\]/)
    // --help after -- is an argument, not a request for help.
    assert.strictEqual(Help.check(["session", "get", "--", "--help"])._tag, "Parse")
  })
})
