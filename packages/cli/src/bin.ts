#!/usr/bin/env node
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { describe, ExitCode } from "./Errors.js"
import { run } from "./main.js"

let code: number = ExitCode.ok

const main = run(process.argv).pipe(
  Effect.catchAll((error) =>
    Effect.sync(() => {
      const { code: exit, line } = describe(error)
      if (line !== undefined) process.stderr.write(`plue: ${line.split("\n")[0]}\n`)
      code = exit
    })
  ),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(main, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit)) return onExit(code)
    if (Cause.isInterruptedOnly(exit.cause)) return onExit(ExitCode.interrupted)
    process.stderr.write(`plue: internal error: ${Cause.pretty(exit.cause).split("\n")[0]}\n`)
    onExit(ExitCode.internal)
  }
})
