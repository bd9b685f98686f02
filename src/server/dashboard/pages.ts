import type { RecordedEvent } from '../../event/types.js';
import type { AnomalyRecord, AnomalyState } from '../../detect/index.js';
import type { groupTimeline } from '../routes/events.js';
import type {
  CheckpointInfo,
  HourBucket,
  Overview,
  PolicyChanges,
  PolicyVersion,
  RunFilters,
  RunSummary,
  EventSummary,
  SearchFilters,
} from './data.js';
import { MAX_POLICY_VERSIONS, RECENT_DECISIONS, RECENT_EVENTS, SEARCH_PAGE } from './data.js';
import { href, html, join, type HtmlValue, type SafeHtml } from './html.js';

/** Who is looking, and what the page needs for its forms. */
export interface PageContext {
  principal: { name: string; tenant: string; scopes: readonly string[] };
  csrf: string;
  /** `serve --open`: no sign-in, a local single user. */
  open: boolean;
  pendingApprovals?: number;
}

type ActionGroup = ReturnType<typeof groupTimeline>[number];

/** A log time shown in UTC; the page script rewrites it to the viewer's zone, UTC on hover. */
function time(iso: string | null | undefined): SafeHtml {
  if (!iso) return html`<span class="muted">—</span>`;
  return html`<time datetime="${iso}" title="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
}

function badge(kind: string | undefined | null, label?: string): SafeHtml {
  const k = kind ?? 'other';
  const cls = /^[a-z_]+$/.test(k) ? k : 'other';
  return html`<span class="badge b-${cls}">${label ?? k}</span>`;
}

function json(value: unknown): SafeHtml {
  return html`<pre>${JSON.stringify(value, null, 2)}</pre>`;
}

function csrfField(csrf: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${csrf}" />`;
}

/**
 * A table of `items` under one header row: `columns` are its header cells, `row` renders one
 * item's `<tr>`. `caption` is shown muted above it; `attrs` go on the `<table>` tag.
 */
function dataTable<T>(
  columns: readonly string[],
  items: readonly T[],
  row: (item: T, index: number) => SafeHtml,
  options: { caption?: HtmlValue; attrs?: SafeHtml } = {},
): SafeHtml {
  return html`<table${options.attrs ?? ''}>
    ${
      options.caption === undefined
        ? ''
        : html`<caption class="muted">
            ${options.caption}
          </caption>`
    }
    <thead>
      <tr>
        ${join(columns.map((c) => html`<th scope="col">${c}</th>`))}
      </tr>
    </thead>
    <tbody>
      ${join(items.map(row))}
    </tbody>
  </table>`;
}

/** The page frame: landmarks, navigation, the open-mode label, the one script. */
export function layout(title: string, ctx: PageContext | null, body: SafeHtml): string {
  const nav = ctx
    ? html`<nav aria-label="Main">
          <ul>
            <li><a href="/">Overview</a></li>
            <li><a href="/runs">Runs</a></li>
            <li><a href="/search">Search</a></li>
            <li>
              <a href="/approvals"
                >Approvals${ctx.pendingApprovals ? html` (${ctx.pendingApprovals})` : ''}</a
              >
            </li>
            <li><a href="/anomalies">Anomalies</a></li>
            <li><a href="/policies">Policies</a></li>
            <li><a href="/settings">Settings</a></li>
          </ul>
        </nav>
        <div class="who">
          <span>${ctx.principal.name} · tenant ${ctx.principal.tenant}</span>
          ${ctx.open ? '' : html`<form class="inline" method="post" action="/logout">${csrfField(ctx.csrf)}<button type="submit">Sign out</button></form>`}
        </div>`
    : '';
  const banner = ctx?.open
    ? html`<p class="banner" role="note">
        Open mode (serve --open): no sign-in on this loopback address; everyone who can reach it acts as the
        local user ${ctx.principal.name}.
      </p>`
    : '';
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · auditrail</title>
        <link rel="stylesheet" href="/assets/dashboard.css" />
        <script type="module" src="/assets/dashboard.js"></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top"><span class="brand">auditrail</span>${nav}</header>
        ${banner}
        <main id="main">${body}</main>
      </body>
    </html>`.text;
}

export function loginPage(csrf: string, error: string | null): string {
  return layout(
    'Sign in',
    null,
    html`<h1>Sign in</h1>
      <p>
        Paste an API key (<code>auditrail apikeys create --tenant ID --name NAME --scope read,approve</code>).
        The key is checked once; the browser keeps only a session cookie.
      </p>
      ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
      <form method="post" action="/login" class="field">
        ${csrfField(csrf)}
        <label
          >API key <input type="password" name="key" autocomplete="current-password" required size="60"
        /></label>
        <p><button class="primary" type="submit">Sign in</button></p>
      </form>`,
  );
}

export function errorPage(ctx: PageContext | null, status: number, message: string): string {
  return layout(
    `Error ${status}`,
    ctx,
    html`<h1>Error ${status}</h1>
      <p class="error" role="alert">${message}</p>
      <p><a href="/">Back to the overview</a></p>`,
  );
}

function chart(hours: HourBucket[]): SafeHtml {
  const max = Math.max(1, ...hours.map((h) => h.count));
  const w = 30;
  const h = 120;
  const bars = hours.map((b, i) => {
    const bh = Math.round((b.count / max) * h);
    return html`<rect class="bar" x="${i * w + 2}" y="${h - bh + 10}" width="${w - 4}" height="${bh}"
      ><title>${b.start}: ${b.count} events</title></rect
    >`;
  });
  const labels = hours
    .filter((_, i) => i % 6 === 0)
    .map(
      (b, i) =>
        html`<text class="axis" x="${i * 6 * w + 2}" y="${h + 24}">${b.start.slice(11, 16)} UTC</text>`,
    );
  const total = hours.reduce((s, b) => s + b.count, 0);
  return html`<svg
    class="chart"
    viewBox="0 0 ${hours.length * w} ${h + 30}"
    role="img"
    aria-labelledby="chart-title"
  >
    <title id="chart-title">
      Events per hour, last 24 hours: ${total} in all, at most ${max} in one hour
    </title>
    ${join(bars)}${join(labels)}
  </svg>`;
}

function checkpointPanel(cp: CheckpointInfo | null, now: number, verifierKey: string | null): SafeHtml {
  if (!cp)
    return html`<p class="empty">
      No checkpoint is signed yet: one is signed a few seconds after the first event.
    </p>`;
  const ageS = Math.max(0, Math.round((now - Date.parse(cp.createdAt)) / 1000));
  return html`<dl class="steps">
    <dt>Size</dt>
    <dd>${cp.size} entries</dd>
    <dt>Root</dt>
    <dd class="mono">${cp.root}</dd>
    <dt>Signed</dt>
    <dd>${time(cp.createdAt)} (${ageS} s ago)</dd>
    <dt>Signed by</dt>
    <dd>${join(cp.signers.map((s) => html`<span class="mono">${s.name} (key id ${s.keyId})</span> `))}</dd>
    <dt>Verifier key</dt>
    <dd class="mono">${verifierKey ?? 'not available'}</dd>
    <dt>Log</dt>
    <dd class="mono">${cp.origin}</dd>
  </dl>`;
}

export interface VerifyResult {
  ok: boolean;
  size: number;
  failures: { seq: number | null; kind: string; detail: string }[];
  at: string;
  by: string;
}

export function overviewPage(
  ctx: PageContext,
  o: Overview,
  pending: number,
  verify: VerifyResult | null,
  verifierKey: string | null,
  now: number,
): string {
  const c = o.counts;
  const decided = c.allowed + c.denied + c.held;
  const canVerify = ctx.principal.scopes.includes('admin');
  const body = html`<h1>Overview</h1>
    ${o.size === 0 ? html`<p class="empty">This log is empty. Record events with the SDK, <code>POST /v1/events</code>, or run <code>npm start</code> for a demo session.</p>` : ''}
    <section aria-labelledby="h-counts">
      <h2 id="h-counts">Actions</h2>
      <div class="cards">
        <div class="card">
          <div class="n">${o.size}</div>
          events in the log
        </div>
        <div class="card">
          <div class="n">${c.allowed}</div>
          ${badge('allow', 'allowed')}
        </div>
        <div class="card">
          <div class="n">${c.denied}</div>
          ${badge('deny', 'denied')}
        </div>
        <div class="card">
          <div class="n">${c.held}</div>
          ${badge('held', 'held for approval')}
        </div>
        <div class="card">
          <div class="n">${c.failed}</div>
          ${badge('failure', 'failed')}
        </div>
        <div class="card">
          <div class="n"><a href="/approvals">${pending}</a></div>
          pending approvals
        </div>
      </div>
      <p class="muted">${decided} policy decisions in all.</p>
    </section>
    <section aria-labelledby="h-chart">
      <h2 id="h-chart">Events per hour</h2>
      ${chart(o.hours)}
    </section>
    <section aria-labelledby="h-agents">
      <h2 id="h-agents">Denial rate by agent</h2>
      ${
        o.agents.length === 0
          ? html`<p class="empty">
              No policy decisions yet: govern actions with the Governor or <code>POST /v1/decide</code>.
            </p>`
          : dataTable(
              ['Agent', 'Decisions', 'Denied', 'Rate'],
              o.agents,
              (a) =>
                html`<tr>
                  <td><a href="${href(['runs'], { agent: a.id })}">${a.id}</a></td>
                  <td>${a.decisions}</td>
                  <td>${a.denied}</td>
                  <td>${((100 * a.denied) / a.decisions).toFixed(1)} %</td>
                </tr>`,
              { caption: html`From the latest ${RECENT_DECISIONS} decisions` },
            )
      }
    </section>
    <section aria-labelledby="h-integrity">
      <h2 id="h-integrity">Integrity</h2>
      ${checkpointPanel(o.checkpoint, now, verifierKey)}
      ${
        verify
          ? html`<p class="${verify.ok ? 'ok' : 'error'}" role="status">
                Last full verify ${time(verify.at)} by ${verify.by}:
                ${verify.ok ? `OK, ${verify.size} entries` : `FAILED, ${verify.failures.length} failures`}
              </p>
              ${
                verify.ok
                  ? ''
                  : html`<ul>
                      ${join(verify.failures.slice(0, 50).map((f) => html`<li>seq ${f.seq ?? '—'}: ${f.kind} — ${f.detail}</li>`))}
                    </ul>`
              }`
          : html`<p class="muted">No full verify has run since the server started.</p>`
      }
      <form method="post" action="/verify">
        ${csrfField(ctx.csrf)}
        <button type="submit" ${canVerify ? '' : html` disabled aria-describedby="verify-note"`}>
          Verify the whole log now
        </button>
        ${canVerify ? '' : html`<span id="verify-note" class="muted">needs a key with the admin scope</span>`}
      </form>
    </section>`;
  return layout('Overview', ctx, body);
}

export function runsPage(ctx: PageContext, f: RunFilters, list: RunSummary[]): string {
  const sel = (name: string, value: string | undefined, options: string[]): SafeHtml =>
    html`<select name="${name}">
      <option value="">any</option>
      ${join(options.map((o) => html`<option${o === value ? html` selected` : ''}>${o}</option>`))}
    </select>`;
  const body = html`<h1>Runs</h1>
    <form class="filters" method="get" action="/runs" role="search">
      <label>Agent <input name="agent" value="${f.agent ?? ''}" data-search /></label>
      <label>Session <input name="session" value="${f.session ?? ''}" /></label>
      <label>Since (UTC) <input name="since" type="datetime-local" value="${f.since ?? ''}" /></label>
      <label>Until (UTC) <input name="until" type="datetime-local" value="${f.until ?? ''}" /></label>
      <label
        >Outcome
        ${sel('outcome', f.outcome, ['success', 'failure', 'denied', 'blocked', 'timeout', 'cancelled'])}</label
      >
      <label>Risk ${sel('risk', f.risk, ['low', 'medium', 'high', 'critical'])}</label>
      <button type="submit">Filter</button> <a href="/runs">Clear</a>
    </form>
    ${
      list.length === 0
        ? html`<p class="empty">
            No runs match. Events carry a <code>run_id</code> when the Governor or an integration records them
            with one; clear the filters to see all runs.
          </p>`
        : dataTable(
            ['Run', 'Agents', 'Session', 'Events', 'Denied', 'Failed', 'Last event'],
            list,
            (r) =>
              html`<tr data-nav>
                <td><a href="${href(['runs', r.runId])}">${r.runId}</a></td>
                <td>${r.agents.join(', ')}</td>
                <td>${r.sessions.join(', ')}</td>
                <td>${r.events}</td>
                <td>${r.denied}</td>
                <td>${r.failed}</td>
                <td>${time(r.last)}</td>
              </tr>`,
            { caption: html`Runs among the latest ${RECENT_EVENTS} matching events, newest first` },
          )
    }`;
  return layout('Runs', ctx, body);
}

function eventLink(e: RecordedEvent, label?: string): SafeHtml {
  return html`<a href="${href(['events', e.seq])}">${label ?? `seq ${e.seq}`}</a>`;
}

function waitOf(requested: RecordedEvent | undefined, decided: RecordedEvent): string | null {
  if (!requested) return null;
  const ms = Date.parse(decided.approval?.decided_at ?? decided.ts) - Date.parse(requested.ts);
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : null;
}

function actionRow(g: ActionGroup, byId: Map<string, RecordedEvent>): SafeHtml {
  const i = g.intent;
  const d = g.decision;
  const p = d?.policy;
  const requested = g.approvals.find((a) => a.type === 'approval.requested');
  const cls = i?.context?.data_classification;
  const undone = g.outcomes.find((o) => o.type === 'action.undone');
  const steps: SafeHtml[] = [];
  if (i) {
    steps.push(
      html`<dt>Intent</dt>
        <dd>
          ${eventLink(i)} · ${time(i.ts)} · ${i.actor.id}
          ${i.delegation?.chain?.length ? html` · delegated via ${i.delegation.chain.map((c) => c.agent_id).join(' → ')}` : ''}
          ${i.context?.reasoning !== undefined ? html`<div>Why: ${i.context.reasoning}</div>` : ''}
          ${
            i.action?.params !== undefined
              ? html`<details>
                  <summary>Parameters</summary>
                  ${json(i.action.params)}
                </details>`
              : ''
          }
        </dd>`,
    );
  }
  if (d && p) {
    steps.push(
      html`<dt>Decision</dt>
        <dd>
          ${badge(p.decision)} ${p.mode === 'shadow' ? badge('info', 'shadow') : ''} rule
          <code>${p.matched_rule ?? '(default)'}</code> · policy ${p.policy_id ?? '—'}
          v${p.policy_version ?? '—'} · ${eventLink(d)}
          ${p.reason !== undefined ? html`<div>${p.reason}</div>` : ''}
          ${
            p.conditions_evaluated?.length
              ? html`<ul>
                  ${join(p.conditions_evaluated.map((c) => html`<li><code>${c.expression}</code> = <code>${String(c.result)}</code></li>`))}
                </ul>`
              : ''
          }
        </dd>`,
    );
  }
  for (const a of g.approvals) {
    const ap = a.approval;
    const wait = a === requested ? null : waitOf(requested, a);
    steps.push(
      html`<dt>Approval</dt>
        <dd>
          ${badge(a.type.slice('approval.'.length))} ${eventLink(a)} · ${time(a.ts)}
          ${a === requested ? html` · approvers ${(ap?.approvers ?? []).join(', ')} · expires ${time(ap?.expires_at)}` : ''}
          ${ap?.approver !== undefined ? html` · by <strong>${ap.approver}</strong>` : ''}
          ${wait ? html` · waited ${wait}` : ''}
          ${ap?.reason !== undefined ? html`<div>Reason: ${ap.reason}</div>` : ''}
        </dd>`,
    );
  }
  for (const o of g.outcomes) {
    const out = o.outcome;
    steps.push(
      html`<dt>${o.type === 'action.retried' ? 'Retry' : 'Outcome'}</dt>
        <dd>
          ${badge(out?.status ?? o.type.slice('action.'.length), o.type)} ${eventLink(o)} · ${time(o.ts)}
          ${o.dispatch?.attempt !== undefined ? html` · attempt ${o.dispatch.attempt}` : ''}
          ${out?.duration_ms !== undefined ? html` · ${out.duration_ms} ms` : ''}
          ${out?.error_message !== undefined ? html`<div class="marker">Error: ${out.error_message}</div>` : ''}
          ${o.undo ? html`<div>Undoes ${byId.has(o.undo.of_event_id) ? eventLink(byId.get(o.undo.of_event_id)!, o.undo.of_event_id) : o.undo.of_event_id}</div>` : ''}
        </dd>`,
    );
  }
  return html`<article
    class="action"
    data-nav
    data-intent="${g.intent_event_id}"
    data-decision="${p?.decision ?? ''}"
    data-outcomes="${g.outcomes.length}"
    aria-label="Action ${g.action?.type ?? ''}"
  >
    <h3>
      <a href="${i ? href(['events', i.seq]) : '#'}">${g.action?.type ?? '(action)'}</a>
      <span class="mono">${g.action?.target ?? ''}</span>
      ${i?.risk_level ? badge('info', `risk ${i.risk_level}`) : ''}
      ${cls === 'pii' || cls === 'phi' ? badge(cls, cls.toUpperCase()) : cls ? badge(cls) : ''}
      ${undone ? badge('info', 'undone') : ''}
    </h3>
    <dl class="steps">${join(steps)}</dl>
  </article>`;
}

/** Longest delegation path the agent tree follows (chains are producer data: bounded). */
const MAX_TREE_DEPTH = 32;

/**
 * The agents of a run as a tree: each event's delegation chain, then its actor, is one path
 * from the root agent down; what each link granted is shown on the agent it was granted to.
 */
function agentTree(events: RecordedEvent[]): SafeHtml | null {
  const children = new Map<string, Set<string>>();
  const granted = new Map<string, Set<string>>();
  const count = new Map<string, number>();
  const hasParent = new Set<string>();
  const nodes = new Set<string>();
  for (const e of events) {
    const chain = (e.delegation?.chain ?? []).slice(0, MAX_TREE_DEPTH);
    const path: { id: string; grants: readonly string[] }[] = [];
    const push = (id: string, grants: readonly string[]): void => {
      if (path[path.length - 1]?.id !== id) path.push({ id, grants });
    };
    for (const link of chain) push(link.agent_id, link.permissions_granted ?? []);
    push(e.actor.id, []);
    count.set(e.actor.id, (count.get(e.actor.id) ?? 0) + 1);
    path.forEach((p, i) => {
      nodes.add(p.id);
      const next = path[i + 1];
      if (!next || next.id === p.id) return;
      const set = children.get(p.id) ?? new Set<string>();
      set.add(next.id);
      children.set(p.id, set);
      hasParent.add(next.id);
      const g = granted.get(next.id) ?? new Set<string>();
      for (const x of p.grants) g.add(x);
      granted.set(next.id, g);
    });
  }
  if (children.size === 0) return null;
  const render = (id: string, seen: ReadonlySet<string>): SafeHtml => {
    const kids = [...(children.get(id) ?? [])].filter((k) => !seen.has(k));
    const next = new Set([...seen, id]);
    const g = [...(granted.get(id) ?? [])];
    return html`<li data-agent="${id}">
      <span class="mono">${id}</span> · ${count.get(id) ?? 0}
      events${g.length ? html` · granted <span class="mono">${g.join(', ')}</span>` : ''}
      ${
        kids.length && next.size < MAX_TREE_DEPTH
          ? html`<ul>
              ${join(kids.map((k) => render(k, next)))}
            </ul>`
          : ''
      }
    </li>`;
  };
  const roots = [...nodes].filter((n) => !hasParent.has(n));
  return html`<section aria-labelledby="h-agents">
    <h2 id="h-agents">Agents and delegation</h2>
    <ul class="tree">
      ${join((roots.length ? roots : [...nodes].slice(0, 1)).map((r) => render(r, new Set())))}
    </ul>
  </section>`;
}

export function runPage(
  ctx: PageContext,
  runId: string,
  t: { events: RecordedEvent[]; actions: ActionGroup[]; truncated: boolean },
): string {
  const byId = new Map(t.events.map((e) => [e.event_id, e]));
  const inAction = new Set<string>();
  for (const g of t.actions) {
    for (const e of [g.intent, g.decision, ...g.approvals, ...g.outcomes]) if (e) inAction.add(e.event_id);
  }
  const others = t.events.filter((e) => !inAction.has(e.event_id));
  const agents = [...new Set(t.events.map((e) => e.actor.id))];
  const body = html`<h1>Run <span class="mono">${runId}</span></h1>
    <p>
      ${t.events.length} events · ${t.actions.length} actions · agents
      ${agents.join(', ')}${t.truncated ? html` · <strong>truncated</strong>` : ''}
    </p>
    ${agentTree(t.events) ?? ''}
    <section aria-labelledby="h-actions">
      <h2 id="h-actions">Actions</h2>
      ${t.actions.length === 0 ? html`<p class="empty">No governed actions in this run.</p>` : join(t.actions.map((g) => actionRow(g, byId)))}
    </section>
    ${
      others.length
        ? html`<section aria-labelledby="h-other">
            <h2 id="h-other">Other events</h2>
            ${dataTable(
              ['Seq', 'Type', 'Actor', 'Time'],
              others,
              (e) =>
                html`<tr data-nav>
                  <td>${eventLink(e, String(e.seq))}</td>
                  <td>${e.type}</td>
                  <td>${e.actor.id}</td>
                  <td>${time(e.ts)}</td>
                </tr>`,
            )}
          </section>`
        : ''
    }`;
  return layout(`Run ${runId}`, ctx, body);
}

/** Every leaf of a value as (JSON pointer, value) rows (RFC 6901 escaping of keys). */
function leaves(value: unknown, pointer: string, out: [string, unknown][]): void {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v] as const)
      : Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) out.push([pointer, value]);
    for (const [k, v] of entries) leaves(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, out);
    return;
  }
  out.push([pointer, value]);
}

const under = (p: string, q: string): boolean => p === q || p.startsWith(`${q}/`);

export function eventPage(ctx: PageContext, e: RecordedEvent): string {
  const { redacted = [], erased = [], archived, ...fields } = e;
  const rows: [string, unknown][] = [];
  leaves(fields, '', rows);
  for (const x of erased) if (!rows.some(([p]) => under(p, x.pointer))) rows.push([x.pointer, undefined]);
  const body = html`<h1>Event ${e.seq} <span class="mono">${e.type}</span></h1>
    <p>
      ${e.run_id !== undefined ? html`Run <a href="${href(['runs', e.run_id])}">${e.run_id}</a> · ` : ''}log
      time ${time(e.ts)} · leaf hash <span class="mono">${e.leaf_hash}</span>
    </p>
    ${
      archived
        ? html`<p>
            <span class="marker">archived in seq ${archived.from}..${archived.to - 1}</span> by
            <a href="${href(['events', archived.by_seq])}">seq ${archived.by_seq}</a> (manifest SHA-256
            <span class="mono">${archived.manifest_sha256}</span>): its fields are in that archive's Parquet
            files.
          </p>`
        : ''
    }
    ${dataTable(
      ['Field', 'Value'],
      rows,
      ([p, v]) => {
        const red = redacted.find((r) => under(p, r));
        const er = erased.find((x) => under(p, x.pointer));
        return html`<tr data-nav>
          <th scope="row" class="mono">${p}</th>
          <td>
            ${
              er ? html`<span class="marker">erased by seq ${er.by_seq ?? '?'}</span> ` : ''
            }${red ? html`<span class="marker">redacted</span> ` : ''}${v === undefined ? '' : typeof v === 'string' ? html`<span class="mono">${v}</span>` : html`<span class="mono">${JSON.stringify(v)}</span>`}
          </td>
        </tr>`;
      },
      {
        caption: html`Every field (JSON pointer →
        value)${redacted.length ? html`; ${redacted.length} redacted before storage` : ''}${erased.length ? html`; ${erased.length} erased` : ''}`,
      },
    )}
    <section aria-labelledby="h-verify">
      <h2 id="h-verify">Verify in this browser</h2>
      <p>
        The page fetches this event's proof bundle and checks, with the browser's own WebCrypto, the leaf
        hash, each disclosure, the inclusion proof and the Ed25519 signature of the checkpoint, against the
        verifier key pinned in <a href="/settings">Settings</a>: nothing the server says is trusted.
      </p>
      <noscript><p class="empty">Verifying in the browser needs JavaScript.</p></noscript>
      <p>
        <button type="button" class="primary" data-verify-seq="${e.seq}" hidden>Verify in browser</button>
      </p>
      <div id="verify-result" role="status" aria-live="polite"></div>
      <p>
        <a href="${href(['events', e.seq, 'proof.json'])}">Proof bundle (auditrail-proof/v1 JSON)</a>: check
        it offline with <code>auditrail verify-proof</code>.
      </p>
    </section>`;
  return layout(`Event ${e.seq}`, ctx, body);
}

export interface ApprovalItem {
  id: string;
  status: string;
  approvers: string[];
  expires_at: string;
  created_at?: string;
  action?: { type?: string; target?: string; params?: unknown };
  matched_rule?: string | null;
  reason?: string | null;
  risk?: string | null;
  decided_by: string | null;
  decision_reason: string | null;
}

export function approvalsPage(
  ctx: PageContext,
  pending: ApprovalItem[],
  history: ApprovalItem[],
  notice: string | null,
): string {
  const me = ctx.principal.name;
  const canApprove = ctx.principal.scopes.includes('approve');
  const body = html`<h1>Approvals</h1>
    ${notice ? html`<p class="ok" role="status">${notice}</p>` : ''}
    <section aria-labelledby="h-pending">
      <h2 id="h-pending">Pending (${pending.length})</h2>
      ${
        pending.length === 0
          ? html`<p class="empty">
              Nothing waits for a decision. Actions whose policy rule says
              <code>require_approval</code> appear here.
            </p>`
          : join(
              pending.map((a) => {
                const mine = canApprove && a.approvers.includes(me);
                return html`<article
                  class="action"
                  data-nav
                  data-approval="${a.id}"
                  aria-label="Approval ${a.id}"
                >
                  <h3>
                    ${a.action?.type ?? '(action)'}
                    <span class="mono">${a.action?.target ?? ''}</span>
                    ${a.risk ? badge('info', `risk ${a.risk}`) : ''}
                  </h3>
                  <dl class="steps">
                    <dt>Request</dt>
                    <dd class="mono">${a.id}</dd>
                    <dt>Rule</dt>
                    <dd><code>${a.matched_rule ?? '—'}</code>${a.reason ? html` — ${a.reason}` : ''}</dd>
                    <dt>Parameters</dt>
                    <dd>${json(a.action?.params ?? null)}</dd>
                    <dt>Approvers</dt>
                    <dd>${a.approvers.join(', ')}</dd>
                    <dt>Expires</dt>
                    <dd>${time(a.expires_at)}</dd>
                  </dl>
                  ${
                    mine
                      ? html`<form
                          method="post"
                          action="${href(['approvals', a.id, 'decide'])}"
                          class="field"
                        >
                          ${csrfField(ctx.csrf)}
                          <label
                            >Reason (required; recorded in the log with your name, ${me})<textarea
                              name="reason"
                              required
                              maxlength="4000"
                            ></textarea>
                          </label>
                          <p>
                            <button class="primary" type="submit" name="verdict" value="approve">
                              Approve
                            </button>
                            <button type="submit" name="verdict" value="deny">Deny</button>
                          </p>
                        </form>`
                      : html`<p class="muted">
                          You (${me}) cannot decide this request:
                          ${canApprove ? 'the rule names other approvers' : 'your key lacks the approve scope'}.
                        </p>`
                  }
                </article>`;
              }),
            )
      }
    </section>
    <section aria-labelledby="h-history">
      <h2 id="h-history">History</h2>
      ${
        history.length === 0
          ? html`<p class="empty">No decided or expired requests yet.</p>`
          : dataTable(
              ['Request', 'Action', 'Status', 'By', 'Reason'],
              history,
              (a) =>
                html`<tr data-nav>
                  <td class="mono">${a.id}</td>
                  <td>${a.action?.type ?? ''} <span class="mono">${a.action?.target ?? ''}</span></td>
                  <td>${badge(a.status)}</td>
                  <td>${a.decided_by ?? '—'}</td>
                  <td>${a.decision_reason ?? ''}</td>
                </tr>`,
            )
      }
    </section>`;
  return layout('Approvals', ctx, body);
}

/**
 * The pinned verifier key (kept by the browser in localStorage, never sent to the server): the
 * page script fills the form and shows the key's fingerprint.
 */
export function settingsPage(ctx: PageContext, statedKey: string | null): string {
  const body = html`<h1>Settings</h1>
    <section aria-labelledby="h-pin">
      <h2 id="h-pin">Pinned verifier key</h2>
      <p>
        "Verify in browser" checks checkpoint signatures against this key only. Paste the log's verifier key
        from a source you trust (the operator's published copy, or <code>auditrail keys show</code> run where
        the log lives): a key copied from this server's own pages would only show that the server agrees with
        itself. The key stays in this browser (localStorage).
      </p>
      <noscript><p class="empty">Pinning a key needs JavaScript.</p></noscript>
      <form id="pin-form" class="field" method="get" action="/settings">
        <label
          >Verifier key
          <input
            id="pin-key"
            name="key"
            size="90"
            spellcheck="false"
            autocomplete="off"
            placeholder="auditrail.local/t/TENANT/LOG+KEYID+BASE64"
        /></label>
        <p>
          <button class="primary" type="submit">Pin this key</button>
          <button type="button" id="pin-clear">Remove the pinned key</button>
        </p>
      </form>
      <div id="pin-status" role="status" aria-live="polite">
        <p class="muted">No key is pinned in this browser.</p>
      </div>
    </section>
    <section aria-labelledby="h-stated">
      <h2 id="h-stated">The key this server states</h2>
      ${
        statedKey
          ? html`<p>
                Compare it with your trusted copy before pinning; it is the key the server signs checkpoints
                with.
              </p>
              <p class="mono" id="stated-key">${statedKey}</p>`
          : html`<p class="empty">This server holds no signing key for your log yet.</p>`
      }
    </section>`;
  return layout('Settings', ctx, body);
}

/** The bundle the server evaluates with (its source redacted as anything stored would be). */
export interface PolicyInForce {
  policyId: string;
  version: number;
  snapshot: string;
  mode: string;
  defaultEffect: string;
  rules: Record<string, unknown>[];
  /** The `policy.updated` event that recorded this snapshot, if the log has one. */
  recordedAt: number | null;
}

function diffLines(text: string): SafeHtml {
  return html`<pre class="diff">
${join(
      text.split('\n').map((line) => {
        const cls = line.startsWith('+')
          ? 'd-add'
          : line.startsWith('-')
            ? 'd-del'
            : line.startsWith('~')
              ? 'd-chg'
              : '';
        return html`<span class="${cls}">${line}</span> `;
      }),
    )}</pre>`;
}

export function policiesPage(
  ctx: PageContext,
  inForce: PolicyInForce | null,
  versions: PolicyVersion[],
  selected: { from: number | null; to: number | null },
  changes: PolicyChanges | null,
): string {
  const option = (v: PolicyVersion, chosen: number | null): SafeHtml =>
    html`<option value="${v.seq}" ${v.seq === chosen ? html` selected` : ''}>
      ${v.policyId} v${v.version ?? '?'} (seq ${v.seq}, ${v.snapshot.slice(7, 19)})
    </option>`;
  const body = html`<h1>Policies</h1>
    <section aria-labelledby="h-force">
      <h2 id="h-force">In force</h2>
      ${
        inForce === null
          ? html`<p class="empty">
              This server evaluates no policy: start it with
              <code>auditrail serve --policy examples/policies/support-agent.yaml</code>.
            </p>`
          : html`<dl class="steps">
                <dt>Policy</dt>
                <dd class="mono">${inForce.policyId} v${inForce.version}</dd>
                <dt>Snapshot</dt>
                <dd class="mono">${inForce.snapshot}</dd>
                <dt>Mode</dt>
                <dd>${inForce.mode}, default ${badge(inForce.defaultEffect)}</dd>
                <dt>In the log</dt>
                <dd>
                  ${
                    inForce.recordedAt === null
                      ? 'not recorded yet (it is recorded with the first decision under it)'
                      : html`recorded by
                          <a href="${href(['events', inForce.recordedAt])}">seq ${inForce.recordedAt}</a>`
                  }
                </dd>
              </dl>
              ${dataTable(
                ['Rule', 'Match', 'When', 'Effect', 'Approvers'],
                inForce.rules,
                (r) =>
                  html`<tr data-nav>
                    <td class="mono">${typeof r['id'] === 'string' ? r['id'] : JSON.stringify(r['id'])}</td>
                    <td class="mono">
                      ${r['match'] === undefined ? 'any action' : JSON.stringify(r['match'])}
                    </td>
                    <td class="mono">${typeof r['when'] === 'string' ? r['when'] : '—'}</td>
                    <td>${badge(typeof r['effect'] === 'string' ? r['effect'] : 'other')}</td>
                    <td>${Array.isArray(r['approvers']) ? r['approvers'].map(String).join(', ') : ''}</td>
                  </tr>`,
                { caption: html`Rules, first match wins` },
              )}`
      }
    </section>
    <section aria-labelledby="h-versions">
      <h2 id="h-versions">Versions</h2>
      ${
        versions.length === 0
          ? html`<p class="empty">
              No <code>policy.updated</code> event in this log yet: the Governor records one when it first
              decides under a bundle, and again whenever the bundle changes.
            </p>`
          : html`${dataTable(
                ['Seq', 'Policy', 'Snapshot', 'Loaded', 'By', 'Changes'],
                versions,
                (v, i) => {
                  const prev = versions
                    .slice(0, i)
                    .reverse()
                    .find((p) => p.policyId === v.policyId);
                  return html`<tr data-nav data-version-seq="${v.seq}">
                    <td><a href="${href(['events', v.seq])}">${v.seq}</a></td>
                    <td class="mono">${v.policyId} v${v.version ?? '?'}</td>
                    <td class="mono">${v.snapshot.slice(0, 19)}…</td>
                    <td>${time(v.ts)}</td>
                    <td>${v.loadedBy}</td>
                    <td>
                      ${v.counts ? `+${v.counts.added} −${v.counts.removed} ~${v.counts.changed}` : '—'}
                      ${prev ? html` · <a href="${href(['policies'], { from: String(prev.seq), to: String(v.seq) }) + '#h-diff'}">diff with v${prev.version ?? '?'}</a>` : html` · ${v.reason ?? ''}`}
                    </td>
                  </tr>`;
                },
                {
                  caption: html`From the log's <code>policy.updated</code> events, oldest first (at most
                    ${MAX_POLICY_VERSIONS})`,
                },
              )}
              <form class="filters" method="get" action="/policies">
                <label
                  >From
                  ${html`<select name="from">
                    ${join(versions.map((v) => option(v, selected.from)))}
                  </select>`}</label
                >
                <label
                  >To
                  ${html`<select name="to">
                    ${join(versions.map((v) => option(v, selected.to)))}
                  </select>`}</label
                >
                <button type="submit">Compare</button>
              </form>`
      }
    </section>
    ${
      changes === null
        ? ''
        : html`<section aria-labelledby="h-diff">
            <h2 id="h-diff">Changes from seq ${selected.from ?? '?'} to seq ${selected.to ?? '?'}</h2>
            ${
              changes.ok
                ? html`<p class="muted">From ${changes.basis}.</p>
                    ${diffLines(changes.diff.text)}`
                : html`<p class="error" role="alert">No diff: ${changes.reason}.</p>`
            }
          </section>`
    }`;
  return layout('Policies', ctx, body);
}

const DECISION_OPTIONS = ['allow', 'deny', 'require_approval'];
const STATUS_OPTIONS = ['success', 'failure', 'denied', 'blocked', 'timeout', 'cancelled'];
const RISK_OPTIONS = ['low', 'medium', 'high', 'critical'];

function select(name: string, label: string, value: string | undefined, options: string[]): SafeHtml {
  return html`<label
    >${label}
    <select name="${name}">
      <option value="">any</option>
      ${join(options.map((o) => html`<option${o === value ? html` selected` : ''}>${o}</option>`))}
    </select></label
  >`;
}

/** One result row; the page script builds live-tail rows with the same cells (text only). */
function searchRow(e: EventSummary): SafeHtml {
  return html`<tr data-nav data-seq="${e.seq}">
    <td><a href="${href(['events', e.seq])}">${e.seq}</a></td>
    <td>${time(e.ts)}</td>
    <td class="mono">${e.type}</td>
    <td>${e.actor}</td>
    <td class="mono">${e.action ?? ''}</td>
    <td class="mono">${e.target ?? ''}</td>
    <td>${e.decision ? badge(e.decision) : ''}${e.status ? badge(e.status) : ''}</td>
    <td>${e.risk ?? ''}</td>
  </tr>`;
}

export function searchPage(
  ctx: PageContext,
  f: SearchFilters,
  results: EventSummary[],
  olderThan: number | null,
  newestSeq: number,
): string {
  const input = (name: keyof SearchFilters, label: string, placeholder = '', extra?: SafeHtml): SafeHtml =>
    html`<label
      >${label} <input name="${name}" value="${f[name] ?? ''}" placeholder="${placeholder}" ${extra ?? ''}
    /></label>`;
  const filtered = Object.keys(f).length > 0;
  const body = html`<h1>Search</h1>
    <form class="filters" method="get" action="/search" role="search" id="search-form">
      ${input('type', 'Type', 'action.* (glob)', html`data-search`)} ${input('agent', 'Agent')}
      ${input('action', 'Action', 'write:* (glob)')} ${input('target', 'Target', 'order/10* (glob)')}
      ${input('session', 'Session')} ${input('run', 'Run')}
      ${select('decision', 'Decision', f.decision, DECISION_OPTIONS)}
      ${select('status', 'Outcome', f.status, STATUS_OPTIONS)} ${select('risk', 'Risk', f.risk, RISK_OPTIONS)}
      <label>Since (UTC) <input name="since" type="datetime-local" value="${f.since ?? ''}" /></label>
      <label>Until (UTC) <input name="until" type="datetime-local" value="${f.until ?? ''}" /></label>
      <button type="submit">Search</button> <a href="/search">Clear</a>
    </form>
    <p class="muted">The filters are in the address: copy it to share this search.</p>
    <div class="tail">
      <button type="button" id="tail-toggle" aria-pressed="false" data-newest="${newestSeq}" hidden>
        Start live tail
      </button>
      <span id="tail-status" role="status" aria-live="polite"></span>
    </div>
    ${
      results.length === 0
        ? html`<p class="empty" id="no-results">
            ${filtered ? 'No event matches these filters: widen or clear them.' : 'This log is empty: record events with the SDK or POST /v1/events, or run npm start for a demo.'}
          </p>`
        : ''
    }
    ${dataTable(
      ['Seq', 'Log time', 'Type', 'Actor', 'Action', 'Target', 'Decision / outcome', 'Risk'],
      results,
      searchRow,
      {
        caption: html`Matching events, newest first${olderThan !== null ? ` (${SEARCH_PAGE} per page)` : ''}`,
        attrs: results.length === 0 ? html` id="results" hidden` : html` id="results"`,
      },
    )}
    ${
      olderThan !== null
        ? html`<p>
            <a href="${href(['search'], { ...f, before: String(olderThan) })}" rel="next">Older events</a>
          </p>`
        : ''
    }`;
  return layout('Search', ctx, body);
}

const RISK_BADGE: Record<string, string> = { low: 'info', medium: 'info', high: 'deny', critical: 'deny' };

/** The anomalies the detectors recorded, newest first, each with its run and its events. */
export function anomaliesPage(
  ctx: PageContext,
  anomalies: AnomalyRecord[],
  state: AnomalyState | null,
  notice: string | null = null,
): string {
  const canReview = ctx.principal.scopes.includes('approve');
  const review = (a: AnomalyRecord): SafeHtml =>
    a.state === 'resolved' || !canReview
      ? html``
      : html`<form method="post" action="/anomalies/review" class="field">
          ${csrfField(ctx.csrf)}
          <input type="hidden" name="id" value="${a.id}" />
          <label
            >Reason (recorded with your name, ${ctx.principal.name})<textarea
              name="reason"
              required
              maxlength="1000"
            ></textarea>
          </label>
          <p>
            ${a.state === 'open' ? html`<button type="submit" name="step" value="ack">Acknowledge</button>` : ''}
            <button type="submit" name="step" value="resolve">Resolve</button>
          </p>
        </form>`;
  const filters = (['open', 'acknowledged', 'resolved'] as const).map(
    (s) =>
      html`<li>
        <a href="${href(['anomalies'], { state: s })}" ${state === s ? html`aria-current="page"` : ''}
          >${s}</a
        >
      </li>`,
  );
  const body = html`<h1>Anomalies</h1>
    ${notice ? html`<p class="ok" role="status">${notice}</p>` : ''}
    <nav aria-label="Anomaly state">
      <ul class="inline">
        <li><a href="/anomalies" ${state === null ? html`aria-current="page"` : ''}>all</a></li>
        ${join(filters)}
      </ul>
    </nav>
    ${
      anomalies.length === 0
        ? html`<p class="empty">
            No ${state ?? ''} anomalies. The detectors record them when <code>auditrail detect</code> or
            <code>auditrail serve</code> with a <code>detect:</code> config runs (docs/detection.md).
          </p>`
        : dataTable(
            ['Detected', 'State', 'Risk', 'Detector', 'Agent', 'What', 'Run', 'Events'],
            anomalies,
            (a) =>
              html`<tr data-anomaly="${a.id}">
                <td><a href="${href(['events', a.seq])}">${time(a.ts)}</a></td>
                <td>
                  ${badge(a.state === 'open' ? 'pending' : a.state === 'resolved' ? 'allow' : 'info', a.state)}
                </td>
                <td>${a.risk_level ? badge(RISK_BADGE[a.risk_level] ?? 'info', a.risk_level) : ''}</td>
                <td><code>${a.detector}</code></td>
                <td class="mono">${a.agent_id}</td>
                <td>
                  ${a.summary}
                  <div class="muted">
                    score ${String(a.score)} · threshold ${String(a.threshold)} · ${time(a.window.from)} –
                    ${time(a.window.to)}
                  </div>
                  ${join(
                    a.history.map((h) => html`<div class="muted">${h.state} by ${h.by}: ${h.reason}</div>`),
                  )}
                  ${review(a)}
                </td>
                <td>
                  ${
                    a.run_id !== undefined
                      ? html`<a href="${href(['runs', a.run_id])}">timeline</a>`
                      : html`<span class="muted">—</span>`
                  }
                </td>
                <td>
                  ${join(
                    a.seqs.map((seq) => html`<a href="${href(['events', seq])}">${String(seq)}</a>`),
                    ', ',
                  )}
                </td>
              </tr>`,
          )
    }
    <p class="muted">
      Acknowledging or resolving needs the approve scope; from a shell:
      <code>auditrail anomalies ack ID --reason TEXT</code>,
      <code>auditrail anomalies resolve ID --reason TEXT</code>.
    </p>`;
  return layout('Anomalies', ctx, body);
}
