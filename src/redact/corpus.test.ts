// The acceptance corpus: real-format secrets with synthetic values, and look-alikes that must stay.
//
// Every secret is assembled at run time from a seeded generator, so no literal in this file has
// the shape a secret scanner (GitHub push protection, gitleaks, trufflehog) flags.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSecretKey } from './key-names.js';
import { createRedactor, REDACTED } from './redact.js';
import { assignmentDetector, BUILTIN_DETECTORS, luhnValid } from './value-patterns.js';
import type { Detector } from './value-patterns.js';

// mulberry32: a small seeded PRNG, so that the corpus is the same on every run.
function generator(seed: number): (alphabet: string, length: number) => string {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return (alphabet, length) => {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
    return out;
  };
}
const rand = generator(20240601);

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const B64 = ALNUM + '+/';
const B64URL = ALNUM + '-_';
const HEX = '0123456789abcdef';
const BASE32 = UPPER + '234567';
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Random text over `alphabet` (which must hold all three) with an upper-case letter, a lower-case letter and a digit. */
function mixed(alphabet: string, length: number): string {
  assert.ok(/[A-Z]/.test(alphabet) && /[a-z]/.test(alphabet) && /\d/.test(alphabet));
  for (;;) {
    const text = rand(alphabet, length);
    if (/[A-Z]/.test(text) && /[a-z]/.test(text) && /\d/.test(text)) return text;
  }
}

const b64url = (text: string): string => Buffer.from(text).toString('base64url');
const b64 = (text: string): string => Buffer.from(text).toString('base64');

function jwt(header: object, payload: object, signatureLength: number): string {
  return [
    b64url(JSON.stringify(header)),
    b64url(JSON.stringify(payload)),
    rand(B64URL, signatureLength),
  ].join('.');
}

function pem(label: string): { text: string; core: string } {
  const lines = [1, 2, 3, 4].map(() => mixed(B64, 64));
  const fence = (kind: string): string => `-----${kind} ${label}-----`;
  return { text: [fence('BEGIN'), ...lines, fence('END')].join('\n'), core: lines[0]! };
}

/** A Luhn-valid card number with the given prefix and length. */
function card(prefix: string, length: number): string {
  const body = prefix + rand(DIGITS, length - prefix.length - 1);
  for (let check = 0; check <= 9; check++) if (luhnValid(body + check)) return body + check;
  throw new Error('unreachable');
}
const group = (digits: string, sizes: number[], separator: string): string => {
  const parts: string[] = [];
  let at = 0;
  for (const size of sizes) parts.push(digits.slice(at, (at += size)));
  return parts.join(separator);
};

const password = (): string => mixed(ALNUM + '!*^', 18);

interface Secret {
  /** What this is, for failure messages. */
  readonly name: string;
  /** The detector that must find it by itself. */
  readonly detector: string;
  /** The string as it appears in an event. */
  readonly text: string;
  /** The sensitive part, which must not survive. */
  readonly core: string;
}

function secrets(): Secret[] {
  const list: Secret[] = [];
  const add = (name: string, detector: string, text: string, core = text): void => {
    list.push({ name, detector, text, core });
  };

  const opaque = mixed(ALNUM, 32);
  add('bare bearer token', 'bearer-credential', 'Bearer ' + opaque, opaque);
  const hs256 = jwt({ alg: 'HS256', typ: 'JWT' }, { sub: 'agent-7', iat: 1718000000 }, 43);
  add('Authorization header with a JWT', 'secret-assignment', 'Authorization: Bearer ' + hs256, hs256);
  const basic = b64('deploy:' + password());
  add('Authorization header with Basic', 'basic-credential', 'Authorization: Basic ' + basic, basic);
  add('HS256 JWT', 'jwt', hs256);
  add(
    'RS256 JWT',
    'jwt',
    jwt({ alg: 'RS256', kid: rand(HEX, 16) }, { sub: 'svc', scope: 'read write' }, 342),
  );

  for (const label of [
    'RSA PRIVATE KEY',
    'PRIVATE KEY',
    'EC PRIVATE KEY',
    'OPENSSH PRIVATE KEY',
    'ENCRYPTED PRIVATE KEY',
  ]) {
    const key = pem(label);
    add(`PEM ${label}`, 'pem-private-key', key.text, key.core);
  }

  add('AWS access key id (AKIA)', 'aws-access-key-id', 'AK' + 'IA' + rand(BASE32, 16));
  add('AWS temporary access key id (ASIA)', 'aws-access-key-id', 'AS' + 'IA' + rand(BASE32, 16));
  const awsSecret = mixed(B64, 40);
  add(
    'AWS secret in a credentials file',
    'aws-secret-access-key',
    'aws_secret_access_key=' + awsSecret,
    awsSecret,
  );
  const awsSecret2 = mixed(B64, 40);
  add('AWS secret after "AWS secret:"', 'aws-secret-access-key', 'AWS secret: ' + awsSecret2, awsSecret2);

  for (const kind of ['p', 'o', 'u', 's', 'r']) {
    add(`GitHub gh${kind}_ token`, 'github-token', 'gh' + kind + '_' + mixed(ALNUM, 36));
  }
  add(
    'GitHub fine-grained PAT',
    'github-token',
    'github' + '_pat_' + mixed(ALNUM, 22) + '_' + mixed(ALNUM, 59),
  );
  add('GitLab PAT', 'gitlab-token', 'gl' + 'pat-' + mixed(ALNUM + '_-', 20));

  for (const kind of ['b', 'p', 'a', 'r']) {
    const token = 'xox' + kind + '-' + rand(DIGITS, 12) + '-' + rand(DIGITS, 13) + '-' + mixed(ALNUM, 24);
    add(`Slack xox${kind}- token`, 'slack-token', token);
  }
  add(
    'Slack app token',
    'slack-token',
    'xa' + 'pp-1-' + rand(UPPER + DIGITS, 11) + '-' + rand(DIGITS, 13) + '-' + rand(HEX, 64),
  );
  const hookSecret = mixed(ALNUM, 24);
  add(
    'Slack incoming webhook',
    'slack-webhook',
    'https://hooks.slack.com/services/T' +
      rand(UPPER + DIGITS, 8) +
      '/B' +
      rand(UPPER + DIGITS, 10) +
      '/' +
      hookSecret,
    hookSecret,
  );

  add('Stripe live secret key', 'stripe-key', 'sk' + '_live_' + mixed(ALNUM, 24));
  add('Stripe live restricted key', 'stripe-key', 'rk' + '_live_' + mixed(ALNUM, 24));
  add('Stripe test secret key', 'stripe-key', 'sk' + '_test_' + mixed(ALNUM, 24));
  add('Stripe webhook secret', 'stripe-key', 'wh' + 'sec_' + mixed(ALNUM, 32));

  add('OpenAI legacy key', 'openai-key', 'sk' + '-' + mixed(ALNUM, 20) + 'T3Blbk' + 'FJ' + mixed(ALNUM, 20));
  add('OpenAI project key', 'openai-key', 'sk' + '-proj-' + mixed(B64URL, 156));
  add('Anthropic key', 'anthropic-key', 'sk' + '-ant-api03-' + mixed(B64URL, 93) + 'AA');
  add('Google API key', 'google-api-key', 'AI' + 'za' + mixed(B64URL, 35));
  add('Hugging Face token', 'huggingface-token', 'hf' + '_' + rand(UPPER, 3) + rand(LOWER + UPPER, 31));
  add('npm token', 'npm-token', 'npm' + '_' + mixed(ALNUM, 36));

  add('Visa, contiguous', 'card-number', card('4', 16));
  add('Mastercard, dashes', 'card-number', group(card('5', 16), [4, 4, 4, 4], '-'));
  add('Amex, 4-6-5 spaces', 'card-number', group(card('37', 15), [4, 6, 5], ' '));
  add('Discover, spaces', 'card-number', group(card('6011', 16), [4, 4, 4, 4], ' '));

  const pg = password();
  add('PostgreSQL URL', 'url-password', `postgres://app:${pg}@db.internal:5432/prod`, pg);
  const git = password();
  add('HTTPS URL with userinfo', 'url-password', `https://deploy:${git}@git.example.com/acme/app.git`, git);
  const mongo = password();
  add(
    'MongoDB SRV URL',
    'url-password',
    `mongodb+srv://svc:${mongo}@cluster0.ab12c.mongodb.net/app?retryWrites=true`,
    mongo,
  );
  const redis = password();
  add('Redis URL with password only', 'url-password', `redis://:${redis}@cache.internal:6379/0`, redis);
  const signature = rand(HEX, 64);
  add(
    'S3 presigned URL',
    'signed-url-signature',
    'https://bucket.s3.amazonaws.com/report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900' +
      '&X-Amz-Signature=' +
      signature,
    signature,
  );

  const dbPassword = password();
  add('.env line', 'secret-assignment', 'DB_PASSWORD=' + dbPassword, dbPassword);
  const apiKey = mixed(ALNUM, 32);
  add('embedded JSON', 'secret-assignment', `{"api_key": "${apiKey}", "region": "eu"}`, apiKey);
  const cliPassword = password();
  add('CLI flag', 'secret-assignment', 'psql --password=' + cliPassword, cliPassword);
  const headerKey = mixed(ALNUM, 40);
  add('X-Api-Key header', 'secret-assignment', 'X-Api-Key: ' + headerKey, headerKey);
  const session = mixed(ALNUM, 24);
  add('Cookie header', 'secret-assignment', `Cookie: session=${session}; theme=dark`, session);
  return list;
}

const SECRETS = secrets();

/** Look-alikes that must stay untouched; `key` places them under that key name. */
function lookAlikes(): { name: string; value: unknown; key?: string }[] {
  const luhnFailing = (digits: string): string => digits.slice(0, -1) + ((Number(digits.at(-1)) + 1) % 10);
  const hex64 = rand(HEX, 64);
  const uuid = [8, 4, 4, 4, 12].map((n) => rand(HEX, n)).join('-');
  return [
    { name: 'git SHA-1', value: rand(HEX, 40) },
    { name: 'short git SHA', value: 'fix in ' + rand(HEX, 7) },
    { name: 'UUID', value: uuid },
    { name: 'ULID', value: '01' + rand(CROCKFORD, 24) },
    { name: 'base64 SHA-256 (SRI)', value: 'sha256-' + b64(rand(ALNUM, 32)) },
    { name: 'sha256 digest of a document', value: 'sha256:' + hex64 },
    { name: '16 digits failing Luhn', value: luhnFailing(card('4', 16)) },
    { name: '16 digits failing Luhn, grouped', value: group(luhnFailing(card('5', 16)), [4, 4, 4, 4], ' ') },
    { name: 'order id failing Luhn', value: 'order #' + luhnFailing(card('3', 16)) + ' shipped' },
    { name: 'ISBN-13, hyphenated', value: '978-3-16-148410-0' },
    { name: 'ISBN-13, plain', value: '9783161484100' },
    { name: 'phone, US', value: '+1 415-555-0132' },
    { name: 'phone, UK', value: 'call +44 20 7946 0958 today' },
    { name: 'phone, parenthesised', value: '(415) 555-0132' },
    { name: 'epoch milliseconds', value: '1718035200123' },
    { name: 'ISO timestamp', value: '2024-06-01T12:00:00.000Z' },
    { name: 'semver', value: '1.2.3-beta.4+build.5' },
    { name: 'hex color', value: '#1a2b3c' },
    { name: '"sk-" in prose', value: 'Assigned task-sk-ew to the ops queue; sk-learn is installed' },
    { name: 'URL with a user and no password', value: 'https://git@github.com/x' },
    { name: 'PostgreSQL URL without credentials', value: 'postgres://host/db' },
    { name: 'URL with a port', value: 'https://example.com:8443/path?x=1&y=2' },
    {
      name: '"Bearer" in prose',
      value: 'Use the Bearer scheme in the Authorization header for bearer tokens.',
    },
    { name: '"Basic" in prose', value: 'Basic usage: run the tool twice' },
    { name: 'token counts in text', value: 'tokens_used: 1234, max_tokens=4096, token_count: 17' },
    { name: 'a SHA next to the word secret', value: 'rotated the secret in commit ' + rand(HEX, 40) },
    { name: 'a secret name, not a secret', value: 'secretName: app-tls' },
    { name: 'tokenizer symbol', value: 'eos_token: </s>' },
    { name: 'Stripe publishable key (public by design)', value: 'pk' + '_live_' + mixed(ALNUM, 24) },
    { name: 'e-mail address', value: 'ann@example.com' },
    { name: 'password in prose', value: 'Reset your password at https://example.com/reset' },
    { name: 'AWS account id', value: 'account 123456789012' },
    { name: 'tokens_used key', key: 'tokens_used', value: 1234 },
    { name: 'max_tokens key', key: 'max_tokens', value: 4096 },
    { name: 'input_tokens key', key: 'input_tokens', value: 812 },
    { name: 'token_count key', key: 'token_count', value: 17 },
    { name: 'author key', key: 'author', value: 'Ann' },
    { name: 'keyboard key', key: 'keyboard', value: 'qwerty' },
    { name: 'monkey key', key: 'monkey', value: 'banana' },
    { name: 'passenger key', key: 'passenger', value: 'Bob' },
    { name: 'secretary key', key: 'secretary', value: 'Joan' },
    { name: 'nextPageToken key', key: 'nextPageToken', value: 'CAUQAA' },
  ];
}

const LOOK_ALIKES = lookAlikes();
const redact = createRedactor();

function detectorNamed(name: string): Detector {
  const found = [...BUILTIN_DETECTORS, assignmentDetector(isSecretKey, null)].find((d) => d.name === name);
  assert.ok(found, `no detector ${name}`);
  return found;
}

/** Whether `detector` alone redacts a range covering `core` inside `text`. */
function detects(detector: Detector, text: string, core: string): boolean {
  const at = text.indexOf(core);
  const regex = detector.pattern;
  regex.lastIndex = 0;
  for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
    const range = detector.locate(m, text);
    if (range !== undefined && range[0] <= at && at + core.length <= range[1]) return true;
    if (range === undefined) regex.lastIndex = m.index + 1;
  }
  return false;
}

describe('corpus: real-format secrets', () => {
  it('has at least 40 secrets covering every detector', () => {
    assert.ok(SECRETS.length >= 40, `only ${SECRETS.length}`);
    const covered = new Set(SECRETS.map((s) => s.detector));
    for (const d of [...BUILTIN_DETECTORS.map((b) => b.name), 'secret-assignment']) {
      assert.ok(covered.has(d), `no corpus entry for ${d}`);
    }
  });

  for (const secret of SECRETS) {
    describe(secret.name, () => {
      it(`is found by ${secret.detector} alone`, () => {
        assert.ok(detects(detectorNamed(secret.detector), secret.text, secret.core));
      });

      it('is redacted as a bare value under an innocent key', () => {
        const { value, pointers } = redact({ note: secret.text, ok: true });
        assert.deepEqual(pointers, ['/note']);
        assert.ok(!value.note.includes(secret.core), value.note);
        assert.ok(value.note.includes(REDACTED));
      });

      it('is redacted inside a sentence, keeping the sentence', () => {
        const before = 'The agent printed ';
        const after = ' in the log.';
        const { value, pointers } = redact({ message: before + secret.text + after });
        assert.deepEqual(pointers, ['/message']);
        assert.ok(!value.message.includes(secret.core), value.message);
        assert.ok(value.message.startsWith(before) && value.message.endsWith(after), value.message);
      });

      it('is redacted inside a nested array', () => {
        const input = { steps: [{ outputs: ['first', [secret.text, 'last']] }] };
        const { value, pointers } = redact(input);
        assert.deepEqual(pointers, ['/steps/0/outputs/1/0']);
        const nested = value.steps[0]!.outputs[1] as string[];
        assert.ok(!nested[0]!.includes(secret.core));
        assert.equal(nested[1], 'last');
        assert.equal(value.steps[0]!.outputs[0], 'first');
      });
    });
  }

  it('redacts all of them in one event, reporting pointers in document order', () => {
    const event = { items: SECRETS.map((s) => ({ text: s.text })) };
    const { value, pointers } = redact(event);
    assert.deepEqual(
      pointers,
      SECRETS.map((_, i) => `/items/${i}/text`),
    );
    const json = JSON.stringify(value);
    for (const s of SECRETS) assert.ok(!json.includes(s.core), s.name);
  });
});

describe('corpus: look-alikes that are not secrets', () => {
  it('has at least 20 look-alikes', () => assert.ok(LOOK_ALIKES.length >= 20));

  for (const item of LOOK_ALIKES) {
    it(`leaves ${item.name} alone`, () => {
      const input = item.key === undefined ? { note: item.value } : { [item.key]: item.value };
      const { value, pointers } = redact(input);
      assert.deepEqual(pointers, []);
      assert.equal(value, input, 'an event without secrets comes back as the same object');
    });
  }

  it('leaves all of them alone in sentences and nested arrays', () => {
    const strings = LOOK_ALIKES.flatMap((l) => (typeof l.value === 'string' ? [l.value] : []));
    const input = {
      sentences: strings.map((s) => `The agent printed ${s} in the log.`),
      nested: [[strings]],
      ...Object.fromEntries(LOOK_ALIKES.flatMap((l) => (l.key === undefined ? [] : [[l.key, l.value]]))),
    };
    const { value, pointers } = redact(input);
    assert.deepEqual(pointers, []);
    assert.equal(value, input);
  });
});
