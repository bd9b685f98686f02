/**
 * The dashboard's markup helpers: the shared escaping tag (src/internal/html.ts) and same-origin
 * links.
 */
export { escapeHtml, html, join, type HtmlValue, type SafeHtml } from '../../internal/html.js';

/**
 * A same-origin dashboard link from path segments and query values, each percent-encoded: a
 * logged `javascript:` URL can only ever become a path segment of ours.
 *
 * @example
 * href(['runs', 'javascript:alert(1)']); // '/runs/javascript%3Aalert(1)'
 */
export function href(
  segments: readonly (string | number)[],
  query: Record<string, string | undefined> = {},
): string {
  const path = '/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, v);
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}
