import type { Item } from "./items.js"

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)

/** The viewer: the shared session, readable, every string escaped. */
export const renderViewer = (items: ReadonlyArray<Item>): string => {
  const session = items.find((i) => i.type === "session")?.data as { title?: string } | undefined
  const messages = items.filter((i) => i.type === "message").map((i) => i.data as { id: string; role?: string; time?: { created?: number } })
  const parts = items.filter((i) => i.type === "part").map((i) =>
    i.data as { id: string; messageID?: string; type?: string; text?: string; tool?: string; state?: { status?: string } }
  )
  messages.sort((a, b) => (a.time?.created ?? 0) - (b.time?.created ?? 0) || a.id.localeCompare(b.id))
  const title = escapeHtml(session?.title ?? "Shared session")
  const body = messages.map((message) => {
    const own = parts.filter((p) => p.messageID === message.id).sort((a, b) => a.id.localeCompare(b.id))
    const content = own.map((part) => {
      if (part.type === "text" && typeof part.text === "string") return `<p class="text">${escapeHtml(part.text)}</p>`
      if (part.type === "tool") {
        return `<p class="tool">tool <code>${escapeHtml(String(part.tool ?? "?"))}</code> (${escapeHtml(String(part.state?.status ?? "?"))})</p>`
      }
      return ""
    }).join("\n")
    return `<section class="message ${escapeHtml(String(message.role ?? ""))}"><h2>${escapeHtml(String(message.role ?? "message"))}</h2>\n${content}</section>`
  }).join("\n")
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}
.message{border-top:1px solid #ddd;padding:.5rem 0}.message h2{font-size:.9rem;color:#666;text-transform:uppercase}
.text{white-space:pre-wrap}.tool{color:#555}</style></head>
<body><h1>${title}</h1>
${body || "<p>No messages yet.</p>"}
</body></html>`
}

/** The page for a share that does not exist (any more). */
export const notFoundPage = "<!doctype html><title>Not found</title><h1>This share does not exist (any more).</h1>"
