#!/usr/bin/env node
/**
 * The `plue` program (bundled into dist/plue.cjs, run by bin/plue.js). Help, `--version` and
 * mistakes in the shape of the command line are answered from `Help.ts` alone; only a command
 * that will run loads the rest (`run.ts`, and there each command what it alone needs).
 */
import * as Help from "./Help.js"

const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
  process.stdout.write(`${Help.version}\n`)
} else {
  const checked = Help.check(argv)
  switch (checked._tag) {
    case "Help":
      process.stdout.write(`${Help.render(checked.path, Help.colorEnabled(process.stdout.isTTY === true, process.env))}\n`)
      break
    case "Usage":
      process.stderr.write(`plue: ${checked.message}\n`)
      process.exitCode = 2
      break
    case "Parse":
      // Not a top-level await: the bundle is CommonJS.
      void import("./run.js").then(({ main }) => main(process.argv, checked.path))
      break
  }
}
