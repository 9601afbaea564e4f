/** The last `limit` lines a process printed, for error messages. */
export class OutputTail {
  private readonly lines: Array<string> = []
  constructor(private readonly limit: number) {}

  push(line: string): void {
    this.lines.push(line.length > 2000 ? `${line.slice(0, 2000)}…` : line)
    if (this.lines.length > this.limit) this.lines.shift()
  }

  text(): string {
    return this.lines.join("\n")
  }
}
