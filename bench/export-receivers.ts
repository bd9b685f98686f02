/**
 * The receivers of the export bench, run in a child process (`fork`) as a SIEM runs on another
 * machine: their parsing does not take the exporter's CPU. Each one still checks every record it
 * is sent, as a strict receiver would: the request's framing and credentials (HEC auth and
 * concatenated objects, Datadog gzip, key and limits, the webhook's HMAC signature, OTLP/JSON,
 * syslog octet counting), then each record's seq in its format (native `seq`, OCSF
 * `metadata.sequence` and `unmapped.auditrail.seq`) and the sink's own copy of it (HEC fields,
 * Datadog ddtags, OTLP attribute `auditrail.seq`, syslog structured data): every event of the log
 * must arrive once, in seq order, from 0.
 *
 * Each request is answered before it is checked (see `handle`); the run's report waits until every
 * record was checked.
 *
 * Messages from the parent: `{ expect: { sink, format } }` starts a run (answered `{ ready }`);
 * `{ report: sink, events }` ends it once `events` records arrived or 10 s passed (answered with
 * the count, the first problem, and this process's CPU time over the run). On start the child
 * sends `{ urls, syslogPort }`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

type Format = 'native' | 'ocsf';
type SinkName = 'splunk' | 'datadog' | 'webhook' | 'otlp' | 'syslog';

export interface ReceiverReport {
  sink: string;
  count: number;
  problem: string | null;
  /** CPU time of the receiver process (all threads) over the run, in µs. */
  cpuUs: number;
}

export const RECEIVER_CREDENTIALS = { splunkToken: 't', datadogKey: 'k', webhookSecret: 's' } as const;

interface Run {
  format: Format;
  next: number;
  count: number;
  problem: string | null;
  cpu: NodeJS.CpuUsage;
}

const runs = new Map<SinkName, Run>();

function runOf(sink: SinkName): Run {
  let r = runs.get(sink);
  if (r === undefined) {
    r = { format: 'native', next: 0, count: 0, problem: null, cpu: process.cpuUsage() };
    runs.set(sink, r);
  }
  return r;
}

function fail(run: Run, why: string): void {
  run.problem ??= why;
}

/** The seq a record in the run's format carries (both of its copies, for OCSF). */
function seqOf(run: Run, record: unknown): number | undefined {
  const r = record as Record<string, unknown> | null;
  if (r === null || typeof r !== 'object') return undefined;
  if (run.format === 'native') return typeof r['seq'] === 'number' ? r['seq'] : undefined;
  const meta = r['metadata'] as { sequence?: unknown } | undefined;
  const native = (r['unmapped'] as { auditrail?: { seq?: unknown } } | undefined)?.auditrail;
  if (r['class_uid'] !== 6003 || typeof meta?.sequence !== 'number' || native?.seq !== meta.sequence)
    return undefined;
  return meta.sequence;
}

/** Takes one record: it must carry the next seq, and `copy` (the sink's own field) must agree. */
function take(run: Run, record: unknown, copy: string | number | undefined): void {
  const seq = seqOf(run, record);
  if (seq === undefined) return fail(run, `a record without a ${run.format} seq`);
  if (seq !== run.next) return fail(run, `seq ${seq} arrived when ${run.next} was due`);
  if (copy === undefined || String(copy) !== String(seq))
    return fail(run, `seq ${seq}: the sink's own copy says ${String(copy)}`);
  run.next++;
  run.count++;
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return typeof v === 'string' ? v : '';
}

const checks: Record<Exclude<SinkName, 'syslog'>, (req: IncomingMessage, body: Buffer, run: Run) => void> = {
  splunk(req, body, run) {
    if (header(req, 'authorization') !== `Splunk ${RECEIVER_CREDENTIALS.splunkToken}`)
      return fail(run, 'HEC: bad Authorization');
    // Concatenated JSON objects; the sink puts one per line (JSON text never holds a raw newline).
    for (const line of body.toString('utf8').split('\n')) {
      const o = JSON.parse(line) as { event?: unknown; fields?: { seq?: string }; sourcetype?: unknown };
      if (typeof o.sourcetype !== 'string') return fail(run, 'HEC: an event without sourcetype');
      take(run, o.event, o.fields?.seq);
    }
  },
  datadog(req, body, run) {
    if (header(req, 'dd-api-key') !== RECEIVER_CREDENTIALS.datadogKey) return fail(run, 'Datadog: bad key');
    if (header(req, 'content-encoding') !== 'gzip') return fail(run, 'Datadog: not gzip');
    const raw = gunzipSync(body);
    if (raw.length > 5_000_000) return fail(run, 'Datadog: body over 5 MB');
    const entries = JSON.parse(raw.toString('utf8')) as { message?: string; ddtags?: string }[];
    if (entries.length > 1000) return fail(run, 'Datadog: over 1,000 entries');
    for (const e of entries) {
      const seq = /(?:^|,)seq:(\d+)(?:,|$)/.exec(e.ddtags ?? '')?.[1];
      take(run, JSON.parse(e.message ?? 'null'), seq);
    }
  },
  webhook(req, body, run) {
    const ts = header(req, 'x-auditrail-timestamp');
    const want = Buffer.from(
      `sha256=${createHmac('sha256', RECEIVER_CREDENTIALS.webhookSecret).update(`${ts}.`).update(body).digest('hex')}`,
    );
    const got = Buffer.from(header(req, 'x-auditrail-signature'));
    if (got.length !== want.length || !timingSafeEqual(got, want)) return fail(run, 'webhook: bad signature');
    for (const r of JSON.parse(body.toString('utf8')) as unknown[]) take(run, r, seqOf(run, r));
  },
  otlp(req, body, run) {
    if (header(req, 'content-type') !== 'application/json') return fail(run, 'OTLP: not OTLP/JSON');
    type KeyValue = { key: string; value: { intValue?: number | string } };
    type Records = { logRecords: { body?: { stringValue?: string }; attributes?: KeyValue[] }[] };
    const req0 = JSON.parse(body.toString('utf8')) as { resourceLogs: { scopeLogs: Records[] }[] };
    for (const rl of req0.resourceLogs)
      for (const sl of rl.scopeLogs)
        for (const lr of sl.logRecords) {
          const seq = lr.attributes?.find((a) => a.key === 'auditrail.seq')?.value.intValue;
          take(run, JSON.parse(lr.body?.stringValue ?? 'null'), seq);
        }
  },
};

function handle(sink: Exclude<SinkName, 'syslog'>, answer: string, status: number) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      // Answered first, checked next: the exporter has one batch in flight, so a check made before
      // the answer would add this receiver's JSON parsing (slower than a SIEM's) to every round
      // trip. A problem still fails the figure: the run's report waits for every record.
      res.writeHead(status, { 'content-type': 'application/json' }).end(answer);
      const run = runOf(sink);
      try {
        checks[sink](req, Buffer.concat(parts), run);
      } catch (e) {
        fail(run, `${sink}: ${(e as Error).message}`);
      }
    });
  };
}

/** RFC 6587 octet counting: `LEN SP MSG`, frames split across reads. */
function syslogConnection(socket: Socket): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const run = runOf('syslog');
    let at = 0;
    for (;;) {
      const space = pending.indexOf(0x20, at);
      if (space < 0) break;
      const len = Number(pending.toString('latin1', at, space));
      if (!Number.isSafeInteger(len) || len <= 0) {
        fail(run, 'syslog: bad frame length');
        socket.destroy();
        return;
      }
      if (pending.length < space + 1 + len) break;
      const msg = pending.toString('utf8', space + 1, space + 1 + len);
      at = space + 1 + len;
      // `… [sdid seq="7" …] {json}`: the record is the message's JSON after the structured data.
      const sd = /\[[^ \]]+ seq="(\d+)"/.exec(msg);
      const json = msg.indexOf('] {');
      take(run, json < 0 ? null : JSON.parse(msg.slice(json + 2)), sd?.[1]);
    }
    pending = pending.subarray(at);
  });
  socket.on('error', () => undefined);
}

async function listen(server: {
  listen: (port: number, host: string, cb: () => void) => unknown;
  address: () => unknown;
}): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function main(): Promise<void> {
  const urls: Record<string, string> = {};
  for (const [sink, answer, status] of [
    ['splunk', '{"text":"Success","code":0}', 200],
    ['datadog', '{}', 202],
    ['webhook', 'ok', 200],
    ['otlp', '{}', 200],
  ] as const) {
    const port = await listen(createServer(handle(sink, answer, status)));
    urls[sink] = `http://127.0.0.1:${port}`;
  }
  const syslogPort = await listen(createNetServer(syslogConnection));
  process.on(
    'message',
    (m: { expect?: { sink: SinkName; format: Format }; report?: SinkName; events?: number }) => {
      if (m.expect) {
        runs.set(m.expect.sink, {
          format: m.expect.format,
          next: 0,
          count: 0,
          problem: null,
          cpu: process.cpuUsage(),
        });
        process.send?.({ ready: m.expect.sink });
      } else if (m.report) {
        const sink = m.report;
        const deadline = Date.now() + 10_000;
        const answer = (): void => {
          const run = runOf(sink);
          if (run.count < (m.events ?? 0) && run.problem === null && Date.now() < deadline) {
            setTimeout(answer, 10);
            return;
          }
          const cpu = process.cpuUsage(run.cpu);
          const report: ReceiverReport = {
            sink,
            count: run.count,
            problem: run.problem,
            cpuUs: cpu.user + cpu.system,
          };
          process.send?.(report);
        };
        answer();
      }
    },
  );
  process.on('disconnect', () => process.exit(0));
  process.send?.({ urls, syslogPort });
}

// Only as the forked process: the bench imports the credentials from here.
if (process.argv[1] === fileURLToPath(import.meta.url)) void main();
