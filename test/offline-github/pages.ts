// The offline GitHub's web pages (sign-in, app registration, installation): a bare HTML shell,
// escaping, and the answer.
import type { ServerResponse } from "node:http";

export function html(res: ServerResponse, status: number, body: string): number {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8" });
  res.end(body);
  return status;
}

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function page(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>${esc(title)}</title></head>\n<body>\n<main>\n${body}\n</main>\n</body>\n</html>\n`;
}
