/**
 * A report as one self-contained HTML file: inline CSS and SVG, a Content-Security-Policy that
 * forbids every request and script, a print stylesheet, and the report's source (template, query,
 * evidence) embedded as inert JSON for `auditrail verify-report`. Every value passes through the
 * one escaping tag (src/internal/html.ts).
 */
import { html, join, type SafeHtml } from '../../internal/html.js';
import type { EventRow, ReportModel, ReportSource, Section } from './model.js';

/** The id of the `<script type="application/json">` element holding the source. */
export const SOURCE_ELEMENT_ID = 'auditrail-report-source';

export interface HtmlOptions {
  /** At most this many rows of each timeline (the PDF keeps its page count bounded); default all. */
  maxTimelineRows?: number;
  /** Embed the source for verify-report (default true; a PDF cannot be checked, so it leaves it out). */
  embedSource?: boolean;
}

const CSS = `
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d9dee4;--bg:#fff;--ok:#17703a;--okbg:#e3f4e8;--bad:#a4161a;--badbg:#fde4e4;
--deny:#8a3b00;--denybg:#ffeedd;--held:#6b4e00;--heldbg:#fff5cc;--info:#38414d;--infobg:#eef1f4;--accent:#2457a6}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
main{max-width:1200px;margin:0 auto;padding:24px}h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid var(--line);padding-bottom:4px}
.muted{color:var(--muted)}.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0}.meta dt{color:var(--muted)}.meta dd{margin:0;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:8px;margin:10px 0}.card{border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.card b{display:block;font-size:18px}.card span{color:var(--muted);font-size:12px}
.control{display:inline-block;background:#e8eefb;color:var(--accent);border-radius:4px;padding:1px 6px;font-size:12px;font-weight:600;margin-right:6px}
.evidence{color:var(--muted);margin:4px 0 8px}.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:break-word;white-space:pre-line}
th{background:#f6f8fa;position:sticky;top:0;white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:10px;padding:0 7px;font-size:11.5px;font-weight:600;white-space:nowrap}
.ok{color:var(--ok);background:var(--okbg)}.bad{color:var(--bad);background:var(--badbg)}.deny{color:var(--deny);background:var(--denybg)}
.held{color:var(--held);background:var(--heldbg)}.info{color:var(--info);background:var(--infobg)}
.flag{display:inline-block;border:1px solid var(--line);border-radius:4px;padding:0 4px;margin:1px 2px 1px 0;font-size:11px;white-space:nowrap}
.flag-phi,.flag-pii{border-color:#b36b00;color:#8a5200}.flag-undone{border-color:var(--bad);color:var(--bad)}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:8px;font-size:12px}
svg text{font:12px system-ui,sans-serif;fill:var(--fg)}svg .bar{fill:var(--accent)}
@media (max-width:700px){main{padding:12px}.meta{grid-template-columns:1fr}th,td{padding:3px}}
@media print{@page{size:A4;margin:14mm 10mm 16mm}body{font-size:10.5px}main{max-width:none;padding:0}th{position:static}
h2{break-after:avoid}tr,.card,svg{break-inside:avoid}.scroll{overflow:visible}a{color:inherit;text-decoration:none}}
`;

const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

function chart(items: { label: string; value: number }[]): SafeHtml {
  if (items.length === 0) return html``;
  const max = Math.max(1, ...items.map((i) => i.value));
  const rowH = 20;
  const labelW = 260;
  const barW = 360;
  const h = items.length * rowH + 4;
  const bars = items.map((it, i) => {
    const y = i * rowH + 2;
    const w = Math.max(it.value > 0 ? 1 : 0, Math.round((it.value / max) * barW));
    const label = it.label.length > 34 ? `${it.label.slice(0, 33)}…` : it.label;
    return html`<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${label}</text
      ><rect class="bar" x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 6}" rx="2"></rect
      ><text x="${labelW + w + 6}" y="${y + 14}">${it.value}</text>`;
  });
  return html`<svg
    role="img"
    aria-label="bar chart"
    width="100%"
    viewBox="0 0 ${labelW + barW + 70} ${h}"
    preserveAspectRatio="xMinYMin meet"
    style="max-width:${labelW + barW + 70}px"
  >
    ${join(bars)}
  </svg>`;
}

function badge(tone: string, text: string): SafeHtml {
  return text === '' ? html`` : html`<span class="badge ${tone}">${text}</span>`;
}

function eventRow(r: EventRow): SafeHtml {
  const flags = r.flags.map(
    (f) => html`<span class="flag flag-${f.toLowerCase().replace(/ /g, '-')}">${f}</span>`,
  );
  // One line per row: a timeline may hold 100,000 of them.
  // prettier-ignore
  return html`<tr data-seq="${r.seq}"><td class="n">${r.seq}</td><td>${r.ts}</td><td>${r.type}</td><td>${r.actor}</td><td>${r.action}</td><td>${r.target}</td><td>${badge(r.tone, r.status)}</td><td>${join(flags)}</td><td>${r.detail}</td></tr>
`;
}

function stats(s: Section): SafeHtml {
  if (s.stats.length === 0) return html``;
  return html`<div class="cards">
    ${join(s.stats.map((x) => html`<div class="card"><b>${x.value}</b><span>${x.label}</span></div>`))}
  </div>`;
}

/**
 * Where a timeline's rows or the source go in the page's skeleton: escaping turns every `<` of a
 * value into `&lt;`, and no literal of ours holds this comment, so a marker is never text.
 */
const MARK = /<!--auditrail:(rows\d+|source)-->/;

function section(s: Section, i: number, options: HtmlOptions, rows: Map<string, string[]>): SafeHtml {
  const head = html`<h2>${s.title}</h2>
    ${s.control ? html`<span class="control">${s.control}</span>` : ''}${s.evidence ? html`<p class="evidence">Evidence: ${s.evidence}</p>` : ''}`;
  let body: SafeHtml;
  if (s.kind === 'timeline') {
    const max = options.maxTimelineRows ?? Number.POSITIVE_INFINITY;
    const shown = s.events.slice(0, max);
    const left = s.events.length - shown.length + s.more;
    // A timeline may hold 100,000 rows: they stay separate strings until the page is written.
    rows.set(
      `rows${i}`,
      shown.map((r) => eventRow(r).text),
    );
    body = html`<div class="scroll">
        <table>
          <thead>
            <tr>
              ${join(s.columns.map((c) => html`<th>${c}</th>`))}
            </tr>
          </thead>
          <tbody>
            ${html`<!--auditrail:rows${i}-->`}
          </tbody>
        </table>
      </div>
      ${left > 0 ? html`<p class="muted">${left} more events are in the HTML and JSON forms of this report.</p>` : ''}`;
  } else if (s.columns.length > 0) {
    const rows = s.rows.map(
      (r, j) =>
        html`<tr data-row="${j}" title="${`seq ${(s.row_seqs[j] ?? []).join(', ')}`}">
          ${join(r.map((c) => html`<td>${c}</td>`))}
        </tr>`,
    );
    body = html`${
      s.rows.length === 0
        ? html`<p class="muted">No events in the period.</p>`
        : html`<div class="scroll">
            <table>
              <thead>
                <tr>
                  ${join(s.columns.map((c) => html`<th>${c}</th>`))}
                </tr>
              </thead>
              <tbody>
                ${join(rows)}
              </tbody>
            </table>
          </div>`
    }${s.more > 0 ? html`<p class="muted">${s.more} more rows left out by the template's limit.</p>` : ''}`;
  } else body = html``;
  return html`<section id="s${i}" data-kind="${s.kind}">
    ${head}${stats(s)}${chart(s.chart)}${body}${s.note ? html`<p class="muted">${s.note}</p>` : ''}
  </section> `;
}

/** JSON safe inside a `<script>` element: no `<`, `>`, `&`, line separators or bidi controls as such. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Evidence objects `buildReport` made (frozen, every value from the base64 encoder). */
const ENCODED = new WeakSet<object>();

/** Marks a frozen evidence object as made of base64 only, so the page places its values unscanned. */
export function markEncoded(evidence: Readonly<Record<string, string>>): void {
  if (Object.isFrozen(evidence)) ENCODED.add(evidence);
}

/**
 * `scriptJson(source)`, byte for byte, as pieces, without scanning the evidence twice more: its
 * values are base64 (tens of megabytes), which neither JSON nor HTML escapes, so each is placed as
 * it is once a scan has shown it to be base64 (or `buildReport` encoded it).
 */
function sourceJson(source: ReportSource): string[] {
  const out: string[] = [];
  let text = '{';
  let first = true;
  for (const [key, value] of Object.entries(source) as [string, unknown][]) {
    if (value === undefined) continue;
    text += `${first ? '' : ','}${scriptJson(key)}:`;
    first = false;
    if (key !== 'evidence' || typeof value !== 'object' || value === null || Array.isArray(value)) {
      text += scriptJson(value);
      continue;
    }
    const known = ENCODED.has(value);
    let firstFile = true;
    text += '{';
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      text += `${firstFile ? '' : ','}${scriptJson(name)}:`;
      firstFile = false;
      if (typeof v === 'string' && (known || BASE64.test(v))) {
        out.push(`${text}"`, v);
        text = '"';
      } else text += scriptJson(v);
    }
    text += '}';
  }
  out.push(`${text}}`);
  return out;
}

/**
 * Renders a report model as one HTML document, with its source embedded for verify-report.
 *
 * @example
 * writeFileSync('q4.html', renderHtml(model, source));
 */
export function renderHtml(model: ReportModel, source: ReportSource, options: HtmlOptions = {}): string {
  return renderHtmlParts(model, source, options).join('');
}

/**
 * The HTML document of {@link renderHtml} as consecutive pieces (each event row, the evidence
 * values, the markup between them), to be written one after the other without first joining tens
 * of megabytes into one string.
 *
 * @example
 * for (const piece of renderHtmlParts(model, source)) writeSync(fd, piece);
 */
export function renderHtmlParts(
  model: ReportModel,
  source: ReportSource,
  options: HtmlOptions = {},
): string[] {
  const rows = new Map<string, string[]>();
  const q = Object.entries(model.query);
  const filters = q.length === 0 ? 'none (the whole log)' : q.map(([k, v]) => `${k}=${v}`).join(', ');
  const head = html`<meta charset="utf-8" />
    <meta http-equiv="Content-Security-Policy" content="${CSP}" />
    <meta name="viewport" content="width=device-width,initial-scale=1" />
    <meta name="referrer" content="no-referrer" />
    <title>${model.title} — ${model.id}</title>`;
  const body = html`<main>
    <header>
      <h1>${model.title}</h1>
      ${model.description ? html`<p class="muted">${model.description}</p>` : ''}
      <dl class="meta">
        <dt>Report</dt>
        <dd>${model.id} (${model.type})</dd>
        <dt>Generated</dt>
        <dd>${model.generated_at} by ${model.generator}</dd>
        <dt>Log</dt>
        <dd>${model.log}, signed checkpoint of size ${model.tree_size}</dd>
        <dt>Filters</dt>
        <dd>${filters}</dd>
        ${
          model.subject !== null
            ? html`<dt>Data subject</dt>
                <dd>${model.subject}</dd>`
            : ''
        }
        <dt>Period</dt>
        <dd>${model.period.first_ts ?? '—'} .. ${model.period.last_ts ?? '—'}</dd>
        <dt>Check it</dt>
        <dd>
          run <code>auditrail verify-report</code> on this file with <code>--key</code> and your own copy of
          the log's verifier key, <code>${model.verifier_key}</code>
        </dd>
      </dl>
    </header>
    ${join(model.sections.map((s, i) => section(s, i, options, rows)))}
    <section id="provenance">
      <h2>Provenance</h2>
      <p class="evidence">
        Every number above was computed from the events below the signed checkpoint, which the embedded
        evidence proves (range proof, disclosures, consistency).
      </p>
      <pre>${model.checkpoint}</pre>
      <p class="muted">Verifier key: ${model.verifier_key}</p>
    </section>
  </main>`;
  // The stylesheet is ours, and the source is JSON with every character that could end the
  // script element escaped: both are placed as they are, around the escaped markup.
  const skeleton =
    `<!doctype html>\n<html lang="en"><head>${head.text}<style>${CSS}</style></head>\n<body>${body.text}\n` +
    (options.embedSource === false
      ? ''
      : `<script type="application/json" id="${SOURCE_ELEMENT_ID}"><!--auditrail:source--></script>\n`) +
    '</body></html>\n';
  // Split at the markers: text at even indexes, marker names at odd ones.
  const pieces = skeleton.split(MARK);
  const out: string[] = [];
  for (const [i, piece] of pieces.entries()) {
    if (i % 2 === 0) out.push(piece);
    else if (piece === 'source') out.push(...sourceJson(source));
    else for (const row of rows.get(piece) ?? []) out.push(row);
  }
  return out;
}
