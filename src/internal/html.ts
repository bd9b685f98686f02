/**
 * The one escaping helper for every page auditrail writes (the dashboard, HTML reports). Markup is
 * built with the {@link html} tag: each value interpolated into it is escaped by
 * {@link escapeHtml} unless it is itself a {@link SafeHtml} made by the tag. Nothing else writes
 * markup from values.
 */

const SAFE = Symbol('auditrail.safe-html');

/** Markup the {@link html} tag produced: trusted structure with escaped values inside. */
export interface SafeHtml {
  readonly [SAFE]: true;
  readonly text: string;
}

function safe(text: string): SafeHtml {
  return { [SAFE]: true, text };
}

function isSafe(v: unknown): v is SafeHtml {
  return typeof v === 'object' && v !== null && (v as Partial<SafeHtml>)[SAFE] === true;
}

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

// Bidirectional controls (Trojan Source, CVE-2021-42574) and other invisible format characters:
// shown as a visible code point, so that "txt.exe" cannot pose as "exe.txt" to a reviewer.
const INVISIBLE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

// Any character either replacement below would change (no g flag: `test` keeps no state).
const NEEDS_ESCAPE = new RegExp(`[&<>"'\`]|${INVISIBLE.source}`);

/**
 * Escapes text for an HTML element body or a double- or single-quoted attribute value, and
 * makes invisible and bidirectional control characters visible as `⟦U+202E⟧`.
 *
 * @example
 * escapeHtml('<b title="x">\u202e'); // '&lt;b title=&quot;x&quot;&gt;⟦U+202E⟧'
 */
export function escapeHtml(value: string): string {
  // Most values hold nothing to escape: one scan, and the text is returned as it is.
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value
    .replace(/[&<>"'`]/g, (c) => ENTITIES[c]!)
    .replace(INVISIBLE, (c) => `⟦U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟧`);
}

/** A value the tag accepts: text (escaped), numbers, markup, lists of them; null/false/undefined print nothing. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (typeof v === 'string') return escapeHtml(v);
  if (typeof v === 'number' || typeof v === 'boolean') return escapeHtml(String(v));
  if (isSafe(v)) return v.text;
  return v.map(render).join('');
}

/**
 * Tagged template for markup: the literal parts are trusted, every `${value}` is escaped.
 *
 * @example
 * html`<td>${event.actor.id}</td>`.text; // the id escaped, whatever it holds
 */
export function html(parts: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = parts[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + parts[i + 1]!;
  return safe(out);
}

/** Joins markup pieces (lists rendered by `.map`). */
export function join(items: readonly SafeHtml[], separator = ''): SafeHtml {
  return safe(items.map((i) => i.text).join(separator));
}
