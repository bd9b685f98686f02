import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { AuditError } from '../../errors.js';
import type { RecordedEvent } from '../../event/types.js';
import type { SyslogSinkConfig } from '../config.js';
import { summary } from '../format.js';
import type { ExportRecord, SendResult, Sink } from '../sink.js';

/** Documentation-only enterprise number (RFC 5612): set `sd_id` to your organisation's own. */
export const DEFAULT_SD_ID = 'auditrail@32473';
const AUTHPRIV = 10;
/** The largest datagram UDP carries; a larger message is refused (a dead letter), never cut. */
export const MAX_UDP_MESSAGE = 65_000;

/** Syslog severity from risk: low 7 debug, medium 6 info, high 4 warning, critical 3 error. */
export function syslogSeverity(e: RecordedEvent): number {
  switch (e.risk_level) {
    case 'low':
      return 7;
    case 'high':
      return 4;
    case 'critical':
      return 3;
    default:
      return 6;
  }
}

/** RFC 5424 PARAM-VALUE escaping: `"`, `\` and `]` get a backslash. */
function sdValue(v: string): string {
  return v.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** Printable US-ASCII only, cut to `max` (HOSTNAME, APP-NAME, MSGID fields); '-' when empty. */
function header(v: string | undefined, max: number): string {
  const s = (v ?? '').replace(/[^!-~]/g, '_').slice(0, max);
  return s === '' ? '-' : s;
}

export interface SyslogHeader {
  facility: number;
  hostname: string;
  appName: string;
  procId: string;
  sdId: string;
}

/**
 * One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, MSGID the
 * event type, structured data seq, event_id, leaf_hash and log (what `auditrail prove` needs).
 *
 * @example
 * syslogMessage(event, '{"seq":17}', hdr) // '<84>1 2026-08-22T10:15:30.123Z worker-3 auditrail …'
 */
export function syslogMessage(e: RecordedEvent, msg: string, h: SyslogHeader): string {
  const pri = h.facility * 8 + syslogSeverity(e);
  const t = Date.parse(e.time ?? e.ts);
  const time = new Date(Number.isFinite(t) ? t : Date.parse(e.ts)).toISOString();
  const params: [string, string | undefined][] = [
    ['seq', String(e.seq)],
    ['event_id', e.event_id],
    ['type', e.type],
    ['leaf_hash', e.leaf_hash],
    ['log', e.log],
    ['risk', e.risk_level],
    ['tenant', e.tenant],
  ];
  const sd = params
    .filter((p): p is [string, string] => p[1] !== undefined)
    .map(([k, v]) => ` ${k}="${sdValue(v)}"`)
    .join('');
  return (
    `<${pri}>1 ${time} ${header(h.hostname, 255)} ${header(h.appName, 48)} ${header(h.procId, 128)} ` +
    `${header(e.type, 32)} [${h.sdId}${sd}] ${msg}`
  );
}

/** CEF header field: `\` and `|` escaped, no line breaks. */
function cefHeader(v: string): string {
  return v.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}

/** CEF extension value: `\` and `=` escaped, line breaks as \n / \r. */
function cefValue(v: string): string {
  return v
    .replace(/[\\=]/g, (c) => `\\${c}`)
    .replace(/\r/g, '\\r')
    .replace(/\n/g, '\\n');
}

const CEF_SEVERITY = { low: 3, medium: 5, high: 8, critical: 10 } as const;

/**
 * The event as one ArcSight CEF line: `CEF:0|auditrail|auditrail|VERSION|type|summary|severity|ext`,
 * severity from risk (low 3, medium 5, high 8, critical 10; none 1), extension keys rt, act,
 * outcome, suser/suid, externalId, cat, reason, request, dvchost, and cs1-cs6 / cn1 with labels
 * (docs/siem.md "CEF").
 *
 * @example
 * cefMessage(event, '0.1.0', 'worker-3') // 'CEF:0|auditrail|auditrail|0.1.0|policy.decision|…'
 */
export function cefMessage(e: RecordedEvent, version: string, host: string): string {
  const ext: [string, string | number | undefined][] = [
    ['rt', Date.parse(e.time ?? e.ts)],
    ['act', e.policy?.decision ?? e.approval?.decision ?? e.action?.type],
    ['outcome', e.outcome?.status],
    ['suid', e.actor?.id],
    ['suser', e.actor?.name],
    ['duser', e.actor?.on_behalf_of],
    ['externalId', e.event_id],
    ['cat', e.type],
    ['reason', e.policy?.reason ?? e.approval?.reason ?? e.outcome?.error_message],
    ['request', e.action?.target],
    ['dvchost', host],
    ['cn1Label', 'seq'],
    ['cn1', e.seq],
    ['cs1Label', 'sessionId'],
    ['cs1', e.session_id],
    ['cs2Label', 'toolName'],
    ['cs2', e.action?.type],
    ['cs3Label', 'ruleId'],
    ['cs3', e.policy?.matched_rule ?? undefined],
    ['cs4Label', 'traceId'],
    ['cs4', e.trace_id],
    ['cs5Label', 'leafHash'],
    ['cs5', e.leaf_hash],
    ['cs6Label', 'tenant'],
    ['cs6', e.tenant],
  ];
  // A label without its value is noise: keep each csN/cnN label only when its value is there.
  const present = new Set(ext.filter(([, v]) => v !== undefined).map(([k]) => k));
  const fields = ext
    .filter(([k, v]) => v !== undefined && (!k.endsWith('Label') || present.has(k.slice(0, -5))))
    .map(([k, v]) => `${k}=${cefValue(String(v))}`)
    .join(' ');
  const severity = e.risk_level ? CEF_SEVERITY[e.risk_level] : 1;
  return (
    `CEF:0|auditrail|auditrail|${cefHeader(version)}|${cefHeader(e.type)}|` +
    `${cefHeader(summary(e))}|${severity}|${fields}`
  );
}

/**
 * Syslog RFC 5424 over TCP (RFC 6587 octet counting: `LEN SP MSG`), TLS (RFC 5425, same framing)
 * or UDP (RFC 5426, one datagram per message). MSG is the record as JSON, or a CEF line. A batch
 * counts as delivered once the socket took every byte (TCP/TLS) or sent every datagram (UDP):
 * syslog has no application acknowledgement, so a receiver dying mid-batch can lose what the
 * kernel had accepted — use TCP or TLS, never UDP, for audit (docs/siem.md "Syslog").
 *
 * @example
 * const sink = syslogSink({ type: 'syslog', host: 'siem', port: 6514, transport: 'tls', message: 'json' }, ctx);
 */
export function syslogSink(
  config: SyslogSinkConfig,
  context: { hostname: string; productVersion: string },
): Sink {
  const hdr: SyslogHeader = {
    facility: config.facility ?? AUTHPRIV,
    hostname: config.hostname ?? context.hostname,
    appName: config.app_name ?? 'auditrail',
    procId: String(process.pid),
    sdId: config.sd_id ?? DEFAULT_SD_ID,
  };
  const timeoutMs = config.timeout_ms ?? 30_000;
  const where = `${config.transport}://${config.host}:${config.port}`;
  let socket: Socket | null = null;
  let broken: Error | null = null;
  let udp: UdpSocket | null = null;
  let ca: Buffer | undefined;
  if (config.transport === 'tls' && config.ca !== undefined) {
    try {
      ca = readFileSync(config.ca);
    } catch (e) {
      throw new AuditError(
        'invalid_argument',
        `syslog sink: cannot read CA file ${config.ca}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }

  const message = (r: ExportRecord): string =>
    syslogMessage(
      r.event,
      config.message === 'cef' ? cefMessage(r.event, context.productVersion, hdr.hostname) : r.json,
      hdr,
    );

  const connect = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s =
        config.transport === 'tls'
          ? tlsConnect({
              host: config.host,
              port: config.port,
              // SNI takes a name, never an address (RFC 6066); an address is checked against IP SANs.
              ...(config.servername !== undefined || isIP(config.host) === 0
                ? { servername: config.servername ?? config.host }
                : {}),
              ...(ca ? { ca } : {}),
            })
          : netConnect({ host: config.host, port: config.port });
      const timer = setTimeout(() => s.destroy(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        reject(e);
      };
      s.once('error', fail);
      s.once(config.transport === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.off('error', fail);
        broken = null;
        // A receiver closing or failing the connection breaks it for the next send, which reconnects.
        s.on('error', (e: Error) => {
          broken = e;
        });
        s.on('close', () => (broken ??= new Error('connection closed by the receiver')));
        // Syslog receivers send nothing back; anything they do is read and dropped.
        s.resume();
        resolve(s);
      });
    });

  const sendTcp = async (batch: readonly ExportRecord[]): Promise<void> => {
    if (socket && broken) {
      socket.destroy();
      socket = null;
    }
    socket ??= await connect();
    const s = socket;
    const text = batch
      .map((r) => {
        const m = message(r);
        return `${Buffer.byteLength(m)} ${m}`;
      })
      .join('');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`the receiver took nothing for ${timeoutMs} ms`));
      }, timeoutMs);
      s.write(text, (e) => {
        clearTimeout(timer);
        if (e) reject(e);
        else resolve();
      });
    });
    if (broken) throw broken;
  };

  const sendUdp = async (batch: readonly ExportRecord[]): Promise<SendResult | null> => {
    const messages = batch.map((r) => Buffer.from(message(r)));
    const big = messages.find((m) => m.length > MAX_UDP_MESSAGE);
    if (big)
      return {
        kind: 'permanent',
        status: null,
        detail: `a message of ${big.length} bytes is over the ${MAX_UDP_MESSAGE}-byte UDP limit`,
      };
    if (!udp) {
      udp = createSocket(config.host.includes(':') ? 'udp6' : 'udp4');
      udp.on('error', () => undefined);
      udp.unref();
    }
    const u = udp;
    for (const m of messages)
      await new Promise<void>((resolve, reject) =>
        u.send(m, config.port, config.host, (e) => (e ? reject(e) : resolve())),
      );
    return null;
  };

  return {
    limits: config.transport === 'udp' ? { maxRecordBytes: MAX_UDP_MESSAGE } : {},
    async send(batch: readonly ExportRecord[]): Promise<SendResult> {
      try {
        if (config.transport === 'udp') return (await sendUdp(batch)) ?? { kind: 'ok' };
        await sendTcp(batch);
        return { kind: 'ok' };
      } catch (e) {
        socket?.destroy();
        socket = null;
        const err = e as NodeJS.ErrnoException;
        return { kind: 'retry', status: null, detail: `${where}: ${err.message}` };
      }
    },
    async close(): Promise<void> {
      const s = socket;
      socket = null;
      if (s) await new Promise<void>((resolve) => s.end(resolve));
      udp?.close();
      udp = null;
    },
  };
}
