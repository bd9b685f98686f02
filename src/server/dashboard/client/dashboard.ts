// The dashboard's page script (served as /assets/dashboard.js; CSP script-src 'self'). Pages work
// without it; it adds local times, keyboard navigation, the pinned verifier key and the in-browser
// proof check (verify-proof.js, loaded when used). It never writes markup: elements and text only.

import type * as VerifyProof from './verify-proof.js';

/** A log time (UTC) shown in the viewer's zone, UTC on hover. */
function localTime(t: HTMLTimeElement): void {
  const d = new Date(t.dateTime);
  if (Number.isNaN(d.getTime())) return;
  t.textContent = d.toLocaleString(undefined, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  });
  t.title = `${t.dateTime} (UTC)`;
}

/** Log times are printed in UTC by the server; show them in the viewer's zone, UTC on hover. */
function localTimes(): void {
  for (const t of document.querySelectorAll<HTMLTimeElement>('time[datetime]')) localTime(t);
}

/** j/k move through the rows of a page, Enter opens the row's first link, `/` focuses search. */
function keyboard(): void {
  const rows = (): HTMLElement[] => [...document.querySelectorAll<HTMLElement>('[data-nav]')];
  let at = -1;
  document.addEventListener('keydown', (ev) => {
    const target = ev.target as HTMLElement | null;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
    if (ev.metaKey || ev.ctrlKey || ev.altKey) return;
    const list = rows();
    if (ev.key === 'j' || ev.key === 'k') {
      if (list.length === 0) return;
      at = Math.max(0, Math.min(list.length - 1, at + (ev.key === 'j' ? 1 : -1)));
      const row = list[at]!;
      const link = row.querySelector<HTMLAnchorElement>('a[href]');
      (link ?? row).focus();
      row.scrollIntoView({ block: 'nearest' });
      ev.preventDefault();
    } else if (ev.key === '/') {
      const search = document.querySelector<HTMLInputElement>('[data-search]');
      if (search) {
        search.focus();
        ev.preventDefault();
      }
    }
  });
}

/** Where the pinned verifier key lives: this browser only, never sent to the server. */
const PIN_KEY = 'auditrail.pinned-verifier-key';

function pinned(): string | null {
  try {
    return localStorage.getItem(PIN_KEY);
  } catch {
    return null;
  }
}

/** An element holding text only (values from the log or a bundle are never parsed as markup). */
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text = '',
  cls = '',
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (cls) e.className = cls;
  e.append(...children);
  return e;
}

const verifier = (): Promise<typeof VerifyProof> => import('./verify-proof.js');

/** Settings: pin a verifier key after checking it parses, and show it with its fingerprint. */
function settings(): void {
  const form = document.getElementById('pin-form') as HTMLFormElement | null;
  const input = document.getElementById('pin-key') as HTMLInputElement | null;
  const status = document.getElementById('pin-status');
  const clear = document.getElementById('pin-clear');
  if (!form || !input || !status || !clear) return;
  const show = async (message?: { text: string; error: boolean }): Promise<void> => {
    status.replaceChildren();
    if (message) status.append(el('p', message.text, message.error ? 'error' : 'ok'));
    const key = pinned();
    if (key === null) {
      status.append(el('p', 'No key is pinned in this browser.', 'muted'));
      return;
    }
    const v = await verifier();
    const k = await v.parsePinnedKey(key);
    const dl = el('dl', '', 'steps');
    dl.append(
      el('dt', 'Pinned key'),
      el('dd', key, 'mono'),
      el('dt', 'Log'),
      el('dd', k.name, 'mono'),
      el('dt', 'Key id'),
      el('dd', k.id, 'mono'),
      el('dt', 'Fingerprint'),
      el('dd', `SHA-256 ${await v.keyFingerprint(k)}`, 'mono'),
    );
    dl.id = 'pinned';
    status.append(dl);
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    void verifier()
      .then((v) => v.parsePinnedKey(text))
      .then(
        () => {
          localStorage.setItem(PIN_KEY, text);
          input.value = '';
          return show({ text: 'Pinned.', error: false });
        },
        (e: unknown) => show({ text: `Not pinned: ${(e as Error).message}.`, error: true }),
      );
  });
  clear.addEventListener('click', () => {
    localStorage.removeItem(PIN_KEY);
    void show({ text: 'The pinned key is removed.', error: false });
  });
  void show();
}

/** Event page: fetch the proof bundle and check it here, against the pinned key. */
function verifyButton(): void {
  const button = document.querySelector<HTMLButtonElement>('button[data-verify-seq]');
  const out = document.getElementById('verify-result');
  if (!button || !out) return;
  button.hidden = false;
  button.addEventListener('click', () => {
    void (async () => {
      out.replaceChildren(el('p', 'Checking…', 'muted'));
      const key = pinned();
      if (key === null) {
        const link = el('a', 'Settings');
        link.href = '/settings';
        out.replaceChildren(
          el(
            'p',
            '',
            'error',
            document.createTextNode('No verifier key is pinned: pin one in '),
            link,
            document.createTextNode(' first.'),
          ),
        );
        return;
      }
      try {
        const seq = button.dataset['verifySeq'] ?? '';
        const r = await fetch(`/events/${encodeURIComponent(seq)}/proof.json`, {
          credentials: 'same-origin',
        });
        if (!r.ok) throw new Error(`the server answered ${r.status} for the proof bundle`);
        const v = await verifier();
        const result = await v.checkProofBundle(await r.json(), key);
        const list = el('ul', '', 'checks');
        for (const c of result.checks) {
          const li = el('li', '', '', el('span', c.ok ? 'pass' : 'FAIL', `badge b-${c.ok ? 'ok' : 'fail'}`));
          li.append(` ${c.name}: ${c.detail}`);
          li.dataset['check'] = c.ok ? 'pass' : 'fail';
          list.append(li);
        }
        const head = result.ok
          ? el(
              'p',
              `Verified in this browser: seq ${seq} is in the log signed by ${result.key?.name ?? ''} (key id ${result.key?.id ?? ''}).`,
              'ok',
            )
          : el(
              'p',
              `Verification FAILED: ${result.failures.map((f) => `${f.kind}: ${f.detail}`).join('; ')}`,
              'error',
            );
        head.id = 'verify-verdict';
        head.dataset['ok'] = String(result.ok);
        head.dataset['kinds'] = [...new Set(result.failures.map((f) => f.kind))].join(' ');
        out.replaceChildren(head, list);
        if (result.event) {
          const details = el(
            'details',
            '',
            '',
            el('summary', 'The event as the verified disclosures state it'),
          );
          details.append(el('pre', JSON.stringify(result.event, null, 2)));
          out.append(details);
        }
      } catch (e) {
        out.replaceChildren(el('p', `Could not verify: ${(e as Error).message}`, 'error'));
      }
    })();
  });
}

/** An event as the live tail sends it (the server's EventSummary). */
interface Summary {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  action: string | null;
  target: string | null;
  decision: string | null;
  status: string | null;
  risk: string | null;
}

/** The same cells as the server's search rows, text only. */
function summaryRow(e: Summary): HTMLTableRowElement {
  const tr = el('tr', '', 'fresh');
  tr.dataset['nav'] = '';
  tr.dataset['seq'] = String(e.seq);
  const link = el('a', String(e.seq));
  link.href = `/events/${e.seq}`;
  const when = el('time');
  when.dateTime = e.ts;
  when.textContent = e.ts;
  localTime(when);
  const badge = (kind: string | null): Node[] =>
    kind === null ? [] : [el('span', kind, `badge b-${/^[a-z_]+$/.test(kind) ? kind : 'other'}`)];
  tr.append(
    el('td', '', '', link),
    el('td', '', '', when),
    el('td', e.type, 'mono'),
    el('td', e.actor),
    el('td', e.action ?? '', 'mono'),
    el('td', e.target ?? '', 'mono'),
    el('td', '', '', ...badge(e.decision), ...badge(e.status)),
    el('td', e.risk ?? ''),
  );
  return tr;
}

/** Rows the results table keeps while tailing (older ones are dropped from the bottom). */
const MAX_TAIL_ROWS = 500;
/** Events held while paused; beyond this the oldest held are dropped (and counted). */
const MAX_HELD = 20_000;

/**
 * Search: a live tail over Server-Sent Events. New events go on top of the results; while the
 * viewer scrolls down the page, they are held (the page does not move under the reader) and
 * shown when the viewer is back at the top.
 */
function liveTail(): void {
  const button = document.getElementById('tail-toggle') as HTMLButtonElement | null;
  const status = document.getElementById('tail-status');
  const table = document.getElementById('results') as HTMLTableElement | null;
  const body = table?.tBodies[0];
  if (!button || !status || !table || !body) return;
  button.hidden = false;
  let source: EventSource | null = null;
  let after = Number(button.dataset['newest'] ?? '-1');
  let held: Summary[] = [];
  let dropped = 0;
  let shown = 0;
  let frame = false;
  const atTop = (): boolean => window.scrollY < 48;
  const state = (s: 'live' | 'paused' | 'stopped', text: string): void => {
    status.dataset['state'] = s;
    status.textContent = text;
  };
  const describe = (): void => {
    if (!source) return;
    if (held.length > 0 && !atTop()) {
      state(
        'paused',
        `Paused while you read: ${held.length + dropped} new events waiting; scroll to the top to see them.`,
      );
    } else {
      state('live', `Live: ${shown} new events since the tail started.`);
    }
  };
  const flush = (): void => {
    frame = false;
    if (!source || !atTop() || held.length === 0) return describe();
    const rows = document.createDocumentFragment();
    for (let i = held.length - 1; i >= 0; i--) rows.append(summaryRow(held[i]!));
    shown += held.length + dropped;
    held = [];
    dropped = 0;
    body.prepend(rows);
    while (body.rows.length > MAX_TAIL_ROWS) body.deleteRow(-1);
    table.hidden = false;
    document.getElementById('no-results')?.remove();
    describe();
  };
  const schedule = (): void => {
    if (!frame) {
      frame = true;
      requestAnimationFrame(flush);
    }
  };
  const stop = (): void => {
    source?.close();
    source = null;
    button.textContent = 'Start live tail';
    button.setAttribute('aria-pressed', 'false');
    state('stopped', 'Live tail stopped.');
  };
  const start = (): void => {
    const params = new URLSearchParams(location.search);
    params.delete('before');
    params.set('after', String(after));
    source = new EventSource(`/search/live?${params.toString()}`);
    source.addEventListener('events', (ev) => {
      const list = JSON.parse((ev as MessageEvent<string>).data) as Summary[];
      if (list.length === 0) return;
      after = list[list.length - 1]!.seq;
      held.push(...list);
      if (held.length > MAX_HELD) {
        dropped += held.length - MAX_HELD;
        held = held.slice(-MAX_HELD);
      }
      schedule();
    });
    source.addEventListener('failure', () => stop());
    button.textContent = 'Stop live tail';
    button.setAttribute('aria-pressed', 'true');
    state('live', 'Live: waiting for new events.');
  };
  button.addEventListener('click', () => (source ? stop() : start()));
  window.addEventListener('scroll', () => (atTop() ? schedule() : describe()), { passive: true });
}

localTimes();
keyboard();
settings();
verifyButton();
liveTail();
