// Redaction runs on input the agent (or whoever feeds it) controls, so no input may make it run
// in super-linear time. Each case below repeats a piece built to make one detector's regex work
// hard (a hint with a value that almost matches, long runs its classes overlap on, unterminated
// quotes and blocks), at two sizes: four times the text must cost about four times the time, not
// sixteen. A regex with catastrophic backtracking shows as a ratio far above 4.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRedactor } from './redact.js';

const redact = createRedactor();
const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** Adversarial pieces; each case is `piece` repeated to the wanted size. */
const CASES: { name: string; piece: string | ((i: number) => string) }[] = [
  { name: 'aws context then almost a secret', piece: 'aws ' + 'Ab1'.repeat(13) + ' ' },
  { name: '"secret key" then almost a secret', piece: 'secret key ' + 'a'.repeat(39) + '=' },
  { name: 'twilio context then almost a token', piece: 'twilio ' + 'ab12'.repeat(7) + 'abc ' },
  { name: 'access key ids without secrets', piece: 'AKIA' + 'ABCDEFGHIJKLMNOP' + ' ' },
  { name: 'key = with unterminated quotes', piece: 'password="' },
  { name: 'key: with unterminated single quotes', piece: "token: 'abc" },
  { name: 'assignment operators in a row', piece: 'api_key:=> ' },
  { name: 'spaces before an operator', piece: 'password' + ' '.repeat(50) + '=' },
  { name: 'cookie pairs', piece: 'Cookie: a=b; c=d; e=f; ' },
  { name: 'secret flags without values', piece: '--password --token -' },
  { name: 'secret flag with spaces', piece: '--password' + ' '.repeat(40) },
  { name: 'mysql with many arguments and no -p', piece: 'mysql ' + 'x '.repeat(30) },
  { name: 'mysql -p without a value', piece: 'mysql -p ' },
  { name: 'sshpass options without -p', piece: 'sshpass -v -e ' },
  { name: 'redis-cli with many arguments', piece: 'redis-cli ' + 'a '.repeat(30) },
  { name: 'AUTH words in a Redis text', piece: 'redis AUTH AUTH ' },
  { name: 'bearer with dots', piece: 'Bearer ' + '.'.repeat(60) + ' ' },
  { name: 'basic with almost base64', piece: 'Basic ' + 'QUJD'.repeat(20) + '!' },
  { name: 'JWT-like without dots', piece: 'eyJ' + 'a'.repeat(80) + ' ' },
  { name: 'JWT-like with one dot', piece: 'eyJ' + 'a'.repeat(40) + '.' + 'b'.repeat(40) + ' ' },
  { name: 'base64 JSON without a secret', piece: b64('{"user":"ann","role":"admin","n":1}') + ' ' },
  { name: 'PEM headers without an end', piece: '-----BEGIN PRIVATE KEY-----\nAAAA\n' },
  { name: 'URL userinfo without @', piece: 'https://u:' + 'p'.repeat(60) + ' ' },
  { name: 'presigned URL params', piece: '?sig=&X-Amz-Signature=&sig=' },
  { name: 'Azure keys too short', piece: 'AccountKey=abc;SharedAccessKey=def;' },
  { name: 'digits for cards and Telegram', piece: '4111 1111 1111 111' + '1:' },
  { name: 'Telegram-like ids', piece: 'bot123456789:A' + 'a'.repeat(20) + ' ' },
  { name: 'Discord-like dotted runs', piece: 'M' + 'a'.repeat(25) + '.abcdef.' },
  { name: 'GitLab-like dotted parts', piece: 'glpat-' + 'a'.repeat(20) + '.b.c.d' },
  { name: 'Slack-like with underscores', piece: 'xoxb-' + '1a'.repeat(20) + '_' },
  {
    name: 'vendor prefixes without bodies',
    piece: 'sk- SG. key- shpat_ EAAA sq0atp- pypi-Ag hvs. dp.st. dapi ',
  },
  { name: 'no hints at all', piece: 'the quick brown fox jumps over the lazy dog ' },
];

/** Nested base64 of JSON, each level one more `{"x": ...}` around the last. */
function nestedBase64(size: number): string {
  let text = '{"note":"' + 'a'.repeat(64) + '"}';
  while (text.length < size) text = b64(JSON.stringify({ x: text }));
  return text;
}

function build(piece: string | ((i: number) => string), size: number): string {
  let out = '';
  for (let i = 0; out.length < size; i++) out += typeof piece === 'string' ? piece : piece(i);
  return out.slice(0, size);
}

/**
 * The least CPU time of a few runs, in milliseconds: CPU time, not wall time, and the minimum,
 * because the machine running the tests may be shared.
 */
function time(text: string): number {
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    const start = process.cpuUsage();
    redact({ text });
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return best;
}

const SMALL = 64 * 1024;
const LARGE = 8 * SMALL;
/** Growth of time for 8x the input above which the work is not linear (quadratic: about 64). */
const MAX_RATIO = 36;

function assertLinear(name: string, small: string, large: string): void {
  const t1 = time(small);
  const t8 = time(large);
  // Eight times the text: linear is about 8x, quadratic about 64x. The small input fits in the CPU's
  // caches and the large one does not, so linear work was seen up to 26x (1 MiB to 2 MiB is 2x). A
  // ratio above MAX_RATIO fails, unless the large input still took under 100 ms (too little to
  // tell noise from growth).
  const report = `${name}: ${t1.toFixed(1)} ms for 64 KiB, ${t8.toFixed(1)} ms for 512 KiB`;
  assert.ok(t8 < 100 || t8 < MAX_RATIO * t1, report);
  assert.ok(t8 < 2000, report);
}

describe('redaction time is linear in the input', () => {
  for (const c of CASES) {
    it(c.name, () => assertLinear(c.name, build(c.piece, SMALL), build(c.piece, LARGE)));
  }

  it('nested base64 JSON', () => assertLinear('nested base64', nestedBase64(SMALL), nestedBase64(LARGE)));

  it('a quadratic regex would fail this check (the check can fail)', () => {
    // Every start scans to the end: n²/2 steps.
    // Best of several runs (seven for the small input, which is cheap and the noisier of the
    // two): one noisy small run must not make the ratio look linear.
    const quadratic = (text: string, runs: number): number => {
      let best = Infinity;
      for (let run = 0; run < runs; run++) {
        const start = process.cpuUsage();
        /a+$/g.test(text);
        const used = process.cpuUsage(start);
        best = Math.min(best, (used.user + used.system) / 1000);
      }
      return best;
    };
    const t1 = quadratic('a'.repeat(4 * 1024) + 'b', 7);
    const t8 = quadratic('a'.repeat(32 * 1024) + 'b', 3);
    assert.ok(!(t8 < 100 || t8 < MAX_RATIO * t1), `${t1} ms, ${t8} ms`);
  });
});
