import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AUDIT_ERROR_HTTP_STATUS, AuditError } from '../../errors.js';
import { Approvals, ApprovalError } from '../../sdk/governance/approvals.js';
import { SCOPES, type Principal } from '../api-keys.js';
import type { ServerContext } from '../context.js';
import { redactorOf } from '../../sdk/internals.js';
import {
  overview,
  policyChanges,
  policyVersions,
  runs,
  SEARCH_FIELDS,
  SEARCH_PAGE,
  searchFilter,
  summarize,
  timeline,
  type PolicyChanges,
  type RunFilters,
  type SearchFilters,
} from './data.js';
import {
  acknowledgeAnomaly,
  ANOMALY_STATES,
  listAnomalies,
  resolveAnomaly,
  type AnomalyState,
} from '../../detect/index.js';
import {
  anomaliesPage,
  approvalsPage,
  errorPage,
  eventPage,
  loginPage,
  overviewPage,
  runPage,
  policiesPage,
  runsPage,
  searchPage,
  settingsPage,
  type PageContext,
  type PolicyInForce,
  type VerifyResult,
} from './pages.js';
import {
  cookie,
  LOGIN_COOKIE,
  parseCookies,
  sameToken,
  SESSION_COOKIE,
  Sessions,
  type Session,
} from './session.js';
import { STYLES } from './styles.js';

/** `serve --open`: a local single user, no sign-in (loopback only; see docs/dashboard.md). */
export interface DashboardOpenMode {
  tenant: string;
  /** The principal recorded as approver (the rule's approvers must name it). */
  name: string;
}

export interface DashboardOptions {
  ctx: ServerContext;
  open?: DashboardOpenMode | null;
  now?: () => number;
}

declare module '../app.js' {
  interface ServerOptions {
    /** `serve --open`: the dashboard without sign-in for a local single user (loopback only). */
    dashboardOpen?: DashboardOpenMode | null;
  }
}

declare module 'fastify' {
  interface FastifySchema {
    /** Not part of the JSON API: left out of the OpenAPI document. */
    hide?: boolean;
  }
}

/**
 * Content-Security-Policy of every dashboard response: scripts and styles from this origin only
 * (no inline script, no eval), no plugins, no framing, forms post back here only.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const FORM_LIMIT = 64 * 1024;
const DATETIME_LOCAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;
/** Live tails open at once on one server (each polls the log). */
const MAX_LIVE_STREAMS = 64;
/** A live tail looks for new events this often, and sends up to LIVE_BATCH per message. */
const LIVE_POLL_MS = 200;
const LIVE_BATCH = 1000;
/** A live tail re-checks its session and key this often. */
const LIVE_RECHECK_MS = 5000;
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/;

/** The page scripts, by file name (each under client/, served at /assets/NAME.js). */
const CLIENT_SCRIPTS = ['dashboard', 'verify-proof'] as const;

/** A compiled page script (dist), or, when running from source, the TypeScript transpiled once. */
async function loadClientScript(name: (typeof CLIENT_SCRIPTS)[number]): Promise<string> {
  try {
    return await readFile(new URL(`./client/${name}.js`, import.meta.url), 'utf8');
  } catch {
    const source = await readFile(new URL(`./client/${name}.ts`, import.meta.url), 'utf8');
    // Development only (tsx): the package ships the compiled file, so typescript is not needed there.
    const ts = (await import('typescript')).default;
    return ts.transpileModule(source, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
    }).outputText;
  }
}

function formOf(req: FastifyRequest): Record<string, string> {
  return (req.body ?? {}) as Record<string, string>;
}

/**
 * The web dashboard of `auditrail serve` at `/` (docs/dashboard.md): server-rendered pages over
 * the tenant logs, a session cookie after signing in with an API key, CSRF tokens on every form.
 *
 * @example
 * await app.register(dashboard, { ctx });
 */
export function dashboard(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const { ctx } = options;
  const now = options.now ?? Date.now;
  const open = options.open ?? null;
  const sessions = new Sessions(now);
  let liveStreams = 0;
  const lastVerify = new Map<string, VerifyResult>();
  // Loaded on first request: from source, transpiling takes seconds and must not delay startup.
  const scripts = new Map<string, Promise<string>>();

  // Forms post url-encoded; this parser exists in the dashboard's scope only (the API stays JSON).
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_LIMIT },
    (_req, body, done) => {
      const out: Record<string, string> = {};
      for (const [k, v] of new URLSearchParams(body as string)) if (!(k in out)) out[k] = v;
      done(null, out);
    },
  );

  app.addHook('onSend', async (_req, reply, payload) => {
    void reply.header('content-security-policy', DASHBOARD_CSP);
    void reply.header('x-frame-options', 'DENY');
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('cross-origin-opener-policy', 'same-origin');
    void reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=()');
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    return payload;
  });

  const secure = (req: FastifyRequest): boolean => req.protocol === 'https';

  /** The signed-in session, re-checking that its key is still valid (revocation ends it). */
  async function sessionOf(
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ id: string; s: Session } | null> {
    const id = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    const s = sessions.get(id);
    if (open) {
      if (s && id) return { id, s };
      const principal: Principal = { keyId: 'open', tenant: open.tenant, name: open.name, scopes: SCOPES };
      const created = sessions.create(principal);
      void reply.header('set-cookie', cookie(SESSION_COOKIE, created.id, { secure: secure(req) }));
      return { id: created.id, s: created.session };
    }
    if (!s || id === undefined) return null;
    const row = await ctx.store.getApiKey(s.principal.keyId);
    if (!row || row.revokedAt !== null) {
      sessions.delete(id);
      return null;
    }
    return { id, s };
  }

  async function pageCtx(s: Session): Promise<PageContext> {
    const trail = await ctx.trails.get(s.principal.tenant);
    const pending = (await new Approvals(trail).list('pending')).length;
    return { principal: s.principal, csrf: s.csrf, open: open !== null, pendingApprovals: pending };
  }

  /** Cross-site requests are refused before anything else; then the synchronizer token is checked. */
  function checkCsrf(req: FastifyRequest, s: Session): void {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null' && new URL(origin).host !== req.headers.host) {
      throw new AuditError('denied', 'cross-origin form posts are refused');
    }
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      throw new AuditError('denied', 'dashboard actions are posted by its forms only');
    }
    const t = formOf(req)['_csrf'];
    if (typeof t !== 'string' || !sameToken(t, s.csrf)) {
      throw new AuditError('denied', 'the form is stale or forged (CSRF token mismatch): reload the page');
    }
  }

  const html = (reply: FastifyReply, status: number, body: string): FastifyReply =>
    reply.code(status).type('text/html; charset=utf-8').send(body);

  // Open mode answers only to a loopback Host (no DNS rebinding of the unauthenticated UI).
  app.addHook('onRequest', async (req, reply) => {
    if (open && !LOOPBACK_HOST.test(req.headers.host ?? '')) {
      return html(reply, 421, errorPage(null, 421, 'open mode answers on 127.0.0.1 or localhost only'));
    }
  });

  app.setErrorHandler(async (error, req, reply) => {
    const status =
      error instanceof AuditError
        ? AUDIT_ERROR_HTTP_STATUS[error.code]
        : ((error as { statusCode?: number }).statusCode ?? 500);
    if (status >= 500) req.log.error({ err: error }, 'dashboard request failed');
    const message = status >= 500 ? 'the server failed to answer; see its log' : (error as Error).message;
    return html(reply, status, errorPage(null, status, message));
  });

  const guarded = { schema: { hide: true } } as const;

  /** Runs a page handler for a signed-in session; without one, to the sign-in form. */
  const page =
    (
      handler: (req: FastifyRequest, reply: FastifyReply, s: Session, id: string) => Promise<unknown>,
      post = false,
    ) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const got = await sessionOf(req, reply);
      if (!got) {
        if (post) return html(reply, 401, errorPage(null, 401, 'your session ended: sign in again'));
        return reply.redirect('/login', 303);
      }
      if (post) checkCsrf(req, got.s);
      return handler(req, reply, got.s, got.id);
    };

  app.get('/assets/dashboard.css', guarded, (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(STYLES),
  );
  for (const name of CLIENT_SCRIPTS) {
    app.get(`/assets/${name}.js`, guarded, async (_req, reply) => {
      let source = scripts.get(name);
      if (source === undefined) {
        source = loadClientScript(name);
        scripts.set(name, source);
        source.catch(() => scripts.delete(name));
      }
      return reply
        .type('text/javascript; charset=utf-8')
        .header('cache-control', 'no-cache')
        .send(await source);
    });
  }

  // Browsers ask for it on every page; an empty answer keeps their consoles clean.
  app.get('/favicon.ico', guarded, (_req, reply) =>
    reply.code(204).header('cache-control', 'max-age=86400').send(),
  );

  app.get('/login', guarded, async (req, reply) => {
    if (open) return reply.redirect('/', 303);
    const t = Sessions.token();
    void reply.header('set-cookie', cookie(LOGIN_COOKIE, t, { secure: secure(req), maxAgeS: 3600 }));
    return html(reply, 200, loginPage(t, null));
  });

  app.post('/login', guarded, async (req, reply) => {
    const form = formOf(req);
    const pre = parseCookies(req.headers.cookie).get(LOGIN_COOKIE);
    const again = (status: number, message: string): FastifyReply => {
      const t = Sessions.token();
      void reply.header('set-cookie', cookie(LOGIN_COOKIE, t, { secure: secure(req), maxAgeS: 3600 }));
      return html(reply, status, loginPage(t, message));
    };
    if (pre === undefined || typeof form['_csrf'] !== 'string' || !sameToken(form['_csrf'], pre)) {
      return again(403, 'The sign-in form expired or came from another site: try again.');
    }
    const principal = await ctx.keys.authenticate(String(form['key'] ?? '').trim());
    if (!principal) return again(401, 'That API key is unknown or revoked.');
    // A fresh session id at each sign-in (no session fixation).
    sessions.delete(parseCookies(req.headers.cookie).get(SESSION_COOKIE));
    const { id } = sessions.create(principal);
    void reply.header('set-cookie', [
      cookie(SESSION_COOKIE, id, { secure: secure(req) }),
      cookie(LOGIN_COOKIE, '', { secure: secure(req), maxAgeS: 0 }),
    ]);
    return reply.redirect('/', 303);
  });

  app.post(
    '/logout',
    guarded,
    page(async (_req, reply, _s, id) => {
      sessions.delete(id);
      void reply.header('set-cookie', cookie(SESSION_COOKIE, '', { secure: false, maxAgeS: 0 }));
      return reply.redirect('/login', 303);
    }, true),
  );

  app.get(
    '/',
    guarded,
    page(async (_req, reply, s) => {
      const trail = await ctx.trails.get(s.principal.tenant);
      const o = await overview(trail, now());
      const pc = await pageCtx(s);
      const key = trail.hasSigningKey() ? trail.verifierKey() : null;
      return html(
        reply,
        200,
        overviewPage(pc, o, pc.pendingApprovals ?? 0, lastVerify.get(s.principal.tenant) ?? null, key, now()),
      );
    }),
  );

  app.post(
    '/verify',
    guarded,
    page(async (_req, reply, s) => {
      if (!s.principal.scopes.includes('admin')) {
        throw new AuditError('denied', 'verifying the whole log needs a key with the admin scope');
      }
      const trail = await ctx.trails.get(s.principal.tenant);
      const r = await trail.verify();
      lastVerify.set(s.principal.tenant, {
        ok: r.ok,
        size: r.size,
        failures: r.failures.map((f) => ({ seq: f.seq ?? null, kind: f.kind, detail: f.detail })),
        at: new Date(now()).toISOString(),
        by: s.principal.name,
      });
      return reply.redirect('/#h-integrity', 303);
    }, true),
  );

  app.get(
    '/runs',
    guarded,
    page(async (req, reply, s) => {
      const q = req.query as Record<string, unknown>;
      const f: RunFilters = {};
      for (const k of ['agent', 'session', 'since', 'until', 'outcome', 'risk'] as const) {
        const v = q[k];
        if (typeof v === 'string' && v !== '' && v.length <= 256) f[k] = v;
      }
      for (const k of ['since', 'until'] as const) {
        if (f[k] !== undefined && !Number.isFinite(Date.parse(f[k].endsWith('Z') ? f[k] : `${f[k]}Z`))) {
          throw new AuditError('invalid_argument', `${k} is not a date and time`);
        }
        if (f[k] !== undefined && !f[k].endsWith('Z')) f[k] = `${f[k]}Z`;
      }
      const trail = await ctx.trails.get(s.principal.tenant);
      const list = await runs(trail, f);
      for (const k of ['since', 'until'] as const) if (f[k] !== undefined) f[k] = f[k].slice(0, 16);
      return html(reply, 200, runsPage(await pageCtx(s), f, list));
    }),
  );

  app.get(
    '/runs/:run_id',
    guarded,
    page(async (req, reply, s) => {
      const { run_id } = req.params as { run_id: string };
      if (run_id.length > 128) throw new AuditError('not_found', 'no such run in this log');
      const trail = await ctx.trails.get(s.principal.tenant);
      const t = await timeline(trail, run_id);
      if (t.events.length === 0) throw new AuditError('not_found', 'no events with that run id in this log');
      return html(reply, 200, runPage(await pageCtx(s), run_id, t));
    }),
  );

  const seqOf = (req: FastifyRequest): number => {
    const { seq } = req.params as { seq: string };
    if (!/^\d{1,15}$/.test(seq)) throw new AuditError('not_found', 'no such event in this log');
    return Number(seq);
  };

  app.get(
    '/events/:seq',
    guarded,
    page(async (req, reply, s) => {
      const trail = await ctx.trails.get(s.principal.tenant);
      const e = await trail.get(seqOf(req));
      if (!e) throw new AuditError('not_found', 'no such event in this log');
      return html(reply, 200, eventPage(await pageCtx(s), e));
    }),
  );

  app.get(
    '/events/:seq/proof.json',
    guarded,
    page(async (req, reply, s) => {
      const trail = await ctx.trails.get(s.principal.tenant);
      const bundle = await trail.prove(seqOf(req));
      return reply.type('application/json; charset=utf-8').send(bundle);
    }),
  );

  app.get(
    '/policies',
    guarded,
    page(async (req, reply, s) => {
      const q = req.query as Record<string, unknown>;
      const seqParam = (k: string): number | null => {
        const v = q[k];
        if (v === undefined || v === '') return null;
        if (typeof v !== 'string' || !/^\d{1,15}$/.test(v)) {
          throw new AuditError('invalid_argument', `${k} must be the seq of a policy.updated event`);
        }
        return Number(v);
      };
      const trail = await ctx.trails.get(s.principal.tenant);
      const versions = await policyVersions(trail);
      let from = seqParam('from');
      let to = seqParam('to');
      if (from === null && to === null) {
        // By default, the latest change: the newest version against the one loaded before it.
        const last = versions[versions.length - 1];
        const prev =
          last &&
          versions
            .slice(0, -1)
            .reverse()
            .find((v) => v.policyId === last.policyId);
        if (last && prev) [from, to] = [prev.seq, last.seq];
      }
      let changes: PolicyChanges | null = null;
      if (from !== null || to !== null) {
        const a = versions.find((v) => v.seq === from);
        const b = versions.find((v) => v.seq === to);
        if (!a || !b) {
          throw new AuditError(
            'not_found',
            'from and to must both be seqs of policy.updated events of this log',
          );
        }
        changes = await policyChanges(trail, a, b);
      }
      const p = ctx.policy;
      const source = p ? (redactorOf(trail)(p.source).value as Record<string, unknown>) : null;
      const inForce: PolicyInForce | null = p
        ? {
            policyId: p.policyId,
            version: p.version,
            snapshot: p.snapshot,
            mode: p.mode,
            defaultEffect: p.defaultEffect,
            rules: Array.isArray(source?.['rules']) ? (source['rules'] as Record<string, unknown>[]) : [],
            recordedAt: versions.filter((v) => v.snapshot === p.snapshot).pop()?.seq ?? null,
          }
        : null;
      return html(reply, 200, policiesPage(await pageCtx(s), inForce, versions, { from, to }, changes));
    }),
  );

  /** The search filters of a page or stream URL, each checked (bad input: a clear error). */
  function searchFiltersOf(req: FastifyRequest): SearchFilters {
    const q = req.query as Record<string, unknown>;
    const f: SearchFilters = {};
    for (const k of Object.keys(SEARCH_FIELDS) as (keyof SearchFilters)[]) {
      const v = q[k];
      if (v === undefined || v === '') continue;
      if (typeof v !== 'string' || v.length > 256) {
        throw new AuditError('invalid_argument', `${k} must be one text of at most 256 characters`);
      }
      f[k] = v;
    }
    for (const k of ['since', 'until'] as const) {
      const v = f[k];
      if (v !== undefined && !(DATETIME_LOCAL.test(v) && Number.isFinite(Date.parse(`${v}Z`)))) {
        throw new AuditError('invalid_argument', `${k} must be a UTC date and time, YYYY-MM-DDTHH:MM`);
      }
    }
    for (const [k, allowed] of [
      ['decision', ['allow', 'deny', 'require_approval']],
      ['status', ['success', 'failure', 'denied', 'blocked', 'timeout', 'cancelled']],
      ['risk', ['low', 'medium', 'high', 'critical']],
    ] as const) {
      const v = f[k];
      if (v !== undefined && !(allowed as readonly string[]).includes(v)) {
        throw new AuditError('invalid_argument', `${k} must be one of ${allowed.join(', ')}`);
      }
    }
    return f;
  }

  app.get(
    '/search',
    guarded,
    page(async (req, reply, s) => {
      const f = searchFiltersOf(req);
      const before = (req.query as Record<string, unknown>)['before'];
      if (before !== undefined && (typeof before !== 'string' || !/^\d{1,15}$/.test(before))) {
        throw new AuditError('invalid_argument', 'before must be the seq of an event');
      }
      const trail = await ctx.trails.get(s.principal.tenant);
      const result = await trail.query({
        ...searchFilter(f),
        order: 'desc',
        limit: SEARCH_PAGE,
        ...(before !== undefined ? { cursor: `d${before}` } : {}),
      });
      const events = result.events.map(summarize);
      const older = result.next_cursor !== null ? (events[events.length - 1]?.seq ?? null) : null;
      // The live tail starts after the newest event the page could show.
      const newest = before === undefined ? (events[0]?.seq ?? trail.size - 1) : trail.size - 1;
      return html(reply, 200, searchPage(await pageCtx(s), f, events, older, newest));
    }),
  );

  /**
   * The live tail of a search: Server-Sent Events, each a batch of event summaries after the
   * last seq sent (`id:`, so a reconnecting browser resumes). Polls the log with read-only
   * queries, so events recorded by any process appear once committed.
   */
  app.get(
    '/search/live',
    guarded,
    page(async (req, reply, s, id) => {
      const filter = searchFilter(searchFiltersOf(req));
      const q = req.query as Record<string, unknown>;
      const from = req.headers['last-event-id'] ?? q['after'];
      if (typeof from !== 'string' || !/^(-1|\d{1,15})$/.test(from)) {
        throw new AuditError('invalid_argument', 'after must be the seq the tail starts after (-1 for all)');
      }
      if (liveStreams >= MAX_LIVE_STREAMS) {
        throw new AuditError(
          'queue_full',
          'too many live tails are open on this server: close one and retry',
        );
      }
      const trail = await ctx.trails.get(s.principal.tenant);
      let after = Number(from);
      liveStreams++;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': DASHBOARD_CSP,
        'x-content-type-options': 'nosniff',
      });
      res.write('retry: 2000\n\n');
      let streaming = true;
      let wake: () => void = () => undefined;
      const stop = (): void => {
        streaming = false;
        wake();
      };
      req.raw.on('close', stop);
      ctx.closing.addEventListener('abort', stop, { once: true });
      let checkedAt = now();
      try {
        while (streaming) {
          const result = await trail.query({
            ...filter,
            order: 'asc',
            limit: LIVE_BATCH,
            ...(after >= 0 ? { cursor: `a${after}` } : {}),
          });
          if (result.events.length > 0) {
            after = result.events[result.events.length - 1]!.seq;
            res.write(
              `id: ${after}\nevent: events\ndata: ${JSON.stringify(result.events.map(summarize))}\n\n`,
            );
          }
          if (now() - checkedAt > LIVE_RECHECK_MS) {
            // A revoked key or an ended session ends its tail too.
            checkedAt = now();
            const still = sessions.get(id);
            const key = open ? null : await ctx.store.getApiKey(s.principal.keyId);
            if (!still || (!open && (!key || key.revokedAt !== null))) break;
            res.write(': ping\n\n');
          }
          if (result.next_cursor !== null) continue;
          await new Promise<void>((r) => {
            const t = setTimeout(r, LIVE_POLL_MS);
            wake = () => {
              clearTimeout(t);
              r();
            };
          });
        }
      } catch (e) {
        req.log.error({ err: e }, 'live tail failed');
        res.write(`event: failure\ndata: ${JSON.stringify('the live tail stopped: reload the page')}\n\n`);
      } finally {
        liveStreams--;
        req.raw.off('close', stop);
        ctx.closing.removeEventListener('abort', stop);
        res.end();
      }
      return reply;
    }),
  );

  app.get(
    '/settings',
    guarded,
    page(async (_req, reply, s) => {
      const trail = await ctx.trails.get(s.principal.tenant);
      const stated = trail.hasSigningKey() ? trail.verifierKey() : null;
      return html(reply, 200, settingsPage(await pageCtx(s), stated));
    }),
  );

  app.get(
    '/approvals',
    guarded,
    page(async (req, reply, s) => {
      const trail = await ctx.trails.get(s.principal.tenant);
      const all = await new Approvals(trail).list('all');
      const risk = (a: (typeof all)[number]): string | null => {
        const r = (a as { risk?: unknown }).risk;
        return typeof r === 'string' ? r : null;
      };
      const items = all.map((a) => ({ ...a, risk: risk(a) }));
      const done = (req.query as { done?: string }).done;
      const notice = done === 'approve' ? 'Approved.' : done === 'deny' ? 'Denied.' : null;
      return html(
        reply,
        200,
        approvalsPage(
          await pageCtx(s),
          items.filter((a) => a.status === 'pending'),
          items.filter((a) => a.status !== 'pending').reverse(),
          notice,
        ),
      );
    }),
  );

  app.get(
    '/anomalies',
    guarded,
    page(async (req, reply, s) => {
      const trail = await ctx.trails.get(s.principal.tenant);
      const asked = (req.query as { state?: unknown }).state;
      if (asked !== undefined && !(ANOMALY_STATES as readonly unknown[]).includes(asked))
        throw new AuditError('invalid_argument', `state: must be one of ${ANOMALY_STATES.join(', ')}`);
      const state = (asked as AnomalyState | undefined) ?? null;
      const list = await listAnomalies(trail, state !== null ? { state } : {});
      const done = (req.query as { done?: unknown }).done;
      const notice = done === 'ack' ? 'Acknowledged.' : done === 'resolve' ? 'Resolved.' : null;
      return html(reply, 200, anomaliesPage(await pageCtx(s), list, state, notice));
    }),
  );

  app.post(
    '/anomalies/review',
    guarded,
    page(async (_req, reply, s) => {
      const p = s.principal;
      const form = formOf(_req);
      const step = form['step'];
      const id = form['id'] ?? '';
      const reason = (form['reason'] ?? '').trim();
      if (step !== 'ack' && step !== 'resolve')
        throw new AuditError('invalid_argument', 'choose Acknowledge or Resolve');
      if (reason === '') throw new AuditError('invalid_argument', 'a reason is required');
      if (reason.length > 1000)
        throw new AuditError('invalid_argument', 'the reason is longer than 1000 characters');
      // Reviewing an anomaly is a decision on the record: the approve scope, as for approvals.
      if (!p.scopes.includes('approve')) throw new AuditError('denied', 'your key lacks the approve scope');
      const trail = await ctx.trails.get(p.tenant);
      // The reviewer is the signed-in principal; the form cannot name anyone else.
      if (step === 'ack') await acknowledgeAnomaly(trail, id, p.name, reason);
      else await resolveAnomaly(trail, id, p.name, reason);
      return reply.redirect(`/anomalies?done=${step}`, 303);
    }, true),
  );

  app.post(
    '/approvals/:id/decide',
    guarded,
    page(async (req, reply, s) => {
      const p = s.principal;
      const { id } = req.params as { id: string };
      const form = formOf(req);
      const verdict = form['verdict'];
      const reason = (form['reason'] ?? '').trim();
      if (verdict !== 'approve' && verdict !== 'deny') {
        throw new AuditError('invalid_argument', 'choose Approve or Deny');
      }
      if (reason === '') throw new AuditError('invalid_argument', 'a reason is required');
      if (reason.length > 4000)
        throw new AuditError('invalid_argument', 'the reason is longer than 4000 characters');
      if (!p.scopes.includes('approve')) {
        throw new AuditError('denied', 'your key lacks the approve scope');
      }
      const trail = await ctx.trails.get(p.tenant);
      const approvals = new Approvals(trail);
      const row = await approvals.get(id);
      if (!row) throw new AuditError('not_found', 'no such approval request in this log');
      // The approver is the signed-in principal; the form cannot name anyone else.
      if (!row.approvers.includes(p.name)) {
        throw new AuditError('denied', `${p.name} is not an approver of this request`);
      }
      try {
        if (verdict === 'approve') await approvals.approve(id, { as: p.name, reason });
        else await approvals.deny(id, { as: p.name, reason });
      } catch (e) {
        if (e instanceof ApprovalError) throw new AuditError('conflict', e.message, { cause: e });
        throw e;
      }
      return reply.redirect(`/approvals?done=${verdict}`, 303);
    }, true),
  );
  return Promise.resolve();
}
