import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSecretKey, SECRET_KEY_HINTS, splitKeyWords } from './key-names.js';
import { createRedactor, MAX_DEPTH, REDACTED } from './redact.js';
import { luhnValid } from './value-patterns.js';

const redact = createRedactor();
// Assembled at run time so that no literal here looks like a credential to a secret scanner.
const GITHUB_TOKEN = 'gh' + 'p_' + 'Zq4Kx9Lm2Np7Rs1Tv6Wy3Ab8Cd5Ef0Gh2Jk4';
const STRIPE_KEY = 'sk' + '_live_' + '4eC39HqLyjWDarjtT1zdp7dc';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The value at an RFC 6901 pointer. */
function resolve(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let node = root;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/** Every pointer of a JSON value, in pre-order (document order). */
function allPointers(value: unknown, prefix = '', out: string[] = []): string[] {
  out.push(prefix);
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      allPointers(v, `${prefix}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`, out);
    }
  }
  return out;
}

describe('isSecretKey', () => {
  const secret = [
    'token',
    'githubToken',
    'GITHUB_TOKEN',
    'X-Auth-Token',
    'x-api-key',
    'X_API_KEY',
    'apiKey',
    'APIKey',
    'api_key',
    'api-key',
    'api.key',
    'apikey',
    'db_password',
    'dbPassword',
    'DB_PASSWD',
    'pwd',
    'PWD',
    'passphrase',
    'AWS_SECRET_ACCESS_KEY',
    'aws.secret',
    'client_secret',
    'clientSecret',
    'private-key',
    'privateKey',
    'private_key',
    'authorization',
    'Proxy-Authorization',
    'cookie',
    'Set-Cookie',
    'credentials',
    'credential',
    'session_token',
    'access_token',
    'accessToken',
    'refresh_token',
    'id_token',
    'csrftoken',
    'bearer',
    'ssn',
    'cvv',
    'password_hash',
    'new_password',
    'secrets',
  ];
  const notSecret = [
    'author',
    'authors',
    'monkey',
    'keyboard',
    'key',
    'keyId',
    'auth',
    'auth_method',
    'pass',
    'session',
    'session_id',
    'passenger',
    'passport',
    'secretary',
    'tokens',
    'tokens_used',
    'token_count',
    'tokenCount',
    'max_tokens',
    'maxTokens',
    'input_tokens',
    'output_tokens',
    'completion_tokens',
    'tokenizer',
    'token_type',
    'secret_name',
    'secretName',
    'password_length',
    'password_updated_at',
    'password_file',
    'passwordFile',
    'secret_path',
    'token_prompt',
    'cookie_name',
    'nextPageToken',
    'page_token',
    'eos_token',
    'signature',
    'www-authenticate',
    '',
    '---',
  ];
  for (const key of secret)
    it(`${JSON.stringify(key)} is secret`, () => assert.equal(isSecretKey(key), true));
  for (const key of notSecret) {
    it(`${JSON.stringify(key)} is not secret`, () => assert.equal(isSecretKey(key), false));
  }

  it('splits keys into words at camelCase, acronyms, digits and separators', () => {
    assert.deepEqual(splitKeyWords('X-Auth-Token'), ['x', 'auth', 'token']);
    assert.deepEqual(splitKeyWords('APIKeyV2'), ['api', 'key', 'v', '2']);
    assert.deepEqual(splitKeyWords('AWS_SECRET_ACCESS_KEY'), ['aws', 'secret', 'access', 'key']);
    assert.deepEqual(splitKeyWords('oauth2.accessToken'), ['oauth', '2', 'access', 'token']);
    assert.deepEqual(splitKeyWords('contraseñaDeRed'), ['contraseña', 'de', 'red']);
  });

  it('every secret key written with _ - . or camelCase contains a free-text hint', () => {
    const words = fc.constantFrom(
      'token',
      'secret',
      'password',
      'api',
      'key',
      'private',
      'cookie',
      'db',
      'x',
      'max',
    );
    const key = fc
      .tuple(
        fc.array(words, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('', '_', '-', '.', 'camel', 'UPPER'),
      )
      .map(([parts, joiner]) => {
        if (joiner === 'camel')
          return parts.map((p, i) => (i === 0 ? p : p[0]!.toUpperCase() + p.slice(1))).join('');
        if (joiner === 'UPPER') return parts.join('_').toUpperCase();
        return parts.join(joiner);
      });
    fc.assert(
      fc.property(key, (k) => {
        if (!isSecretKey(k)) return true;
        const lower = k.toLowerCase();
        return SECRET_KEY_HINTS.some((hint) => lower.includes(hint));
      }),
    );
  });
});

describe('luhnValid', () => {
  it('accepts valid numbers and rejects the rest', () => {
    assert.equal(luhnValid('4111111111111111'), true);
    assert.equal(luhnValid('79927398713'), true);
    assert.equal(luhnValid('4111111111111112'), false);
    assert.equal(luhnValid('0'), false);
    assert.equal(luhnValid(''), false);
    assert.equal(luhnValid('4111 1111 1111 1111'), false, 'separators are the caller’s to strip');
  });
});

describe('createRedactor: secret keys', () => {
  it('redacts the whole value under a secret key, whatever its type', () => {
    const input = {
      password: 'hunter2',
      token: 12345,
      secret: true,
      credentials: { user: 'ann', nested: { deeper: ['x'] } },
      api_key: ['a', 'b'],
      cookie: false,
      apiKey: 0,
    };
    const { value, pointers } = redact(input);
    assert.deepEqual(value, {
      password: REDACTED,
      token: REDACTED,
      secret: REDACTED,
      credentials: REDACTED,
      api_key: REDACTED,
      cookie: REDACTED,
      apiKey: REDACTED,
    });
    assert.deepEqual(pointers, [
      '/password',
      '/token',
      '/secret',
      '/credentials',
      '/api_key',
      '/cookie',
      '/apiKey',
    ]);
  });

  it('leaves null, undefined, empty strings and earlier redactions under a secret key', () => {
    const input = { password: null, token: '', secret: undefined, pwd: REDACTED };
    const { value, pointers } = redact(input);
    assert.equal(value, input);
    assert.deepEqual(pointers, []);
  });

  it('redacts secret keys at any depth, in objects inside arrays', () => {
    const { value, pointers } = redact({
      calls: [
        { tool: 'http', args: { headers: { Authorization: 'Bearer x', Accept: 'json' } } },
        { tool: 'db', args: { connection: { host: 'h', password: 'p' } } },
      ],
    });
    assert.deepEqual(pointers, ['/calls/0/args/headers/Authorization', '/calls/1/args/connection/password']);
    assert.equal(value.calls[0]!.args.headers!.Accept, 'json');
    assert.equal(value.calls[1]!.args.connection!.host, 'h');
  });

  it('redacts the value of name/value pairs naming a secret (HAR headers, Kubernetes env)', () => {
    const { value, pointers } = redact({
      env: [
        { name: 'DB_PASSWORD', value: 'p' },
        { name: 'LOG_LEVEL', value: 'debug' },
      ],
      headers: [{ key: 'X-Api-Key', value: 'k' }],
    });
    assert.deepEqual(pointers, ['/env/0/value', '/headers/0/value']);
    assert.equal(value.env[1]!.value, 'debug');
  });
});

describe('createRedactor: values', () => {
  it('replaces only the secret inside a longer string', () => {
    const { value, pointers } = redact({
      cmd: "curl -H 'Authorization: Bearer abc.def' https://api.example.com",
    });
    assert.equal(value.cmd, `curl -H 'Authorization: Bearer ${REDACTED}' https://api.example.com`);
    assert.deepEqual(pointers, ['/cmd']);
  });

  it('keeps the brackets and punctuation around a secret that did not open them', () => {
    const cases: [string, string][] = [
      ['(token: Bearer abcdefghijklmnop1234567890)', `(token: Bearer ${REDACTED})`],
      ['[api_key=abc123xyz987]', `[api_key=${REDACTED}]`],
      ['see {secret: q1w2e3r4t5}.', `see {secret: ${REDACTED}}.`],
      // Brackets the value opened are part of it.
      ['token=abc(def)', `token=${REDACTED}`],
    ];
    for (const [input, expected] of cases) assert.equal(redact({ s: input }).value.s, expected, input);
  });

  it('keeps the URL around its password', () => {
    const { value } = redact('postgres://app:pa55word@db.internal:5432/prod?sslmode=require');
    assert.equal(value, `postgres://app:${REDACTED}@db.internal:5432/prod?sslmode=require`);
  });

  it('redacts several secrets in one string and reports its pointer once', () => {
    const { value, pointers } = redact({ log: `first ${GITHUB_TOKEN} then ${STRIPE_KEY} done` });
    assert.equal(value.log, `first ${REDACTED} then ${REDACTED} done`);
    assert.deepEqual(pointers, ['/log']);
  });

  it('merges overlapping detections into one marker', () => {
    const { value } = redact(`token=${GITHUB_TOKEN}`);
    assert.equal(value, `token=${REDACTED}`);
  });

  it('redacts a top-level string at the root pointer', () => {
    assert.deepEqual(redact(GITHUB_TOKEN), { value: REDACTED, pointers: [''] });
  });

  it('redacts an unterminated private key to the end of the string', () => {
    const { value } = redact('head -3 id_rsa\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA');
    assert.equal(value, `head -3 id_rsa\n${REDACTED}`);
  });

  it('takes every pair of a Cookie header', () => {
    assert.equal(
      redact('Cookie: a=1b2c3d; sid=9f8e7d; theme=dark\nHost: x').value,
      `Cookie: ${REDACTED}\nHost: x`,
    );
  });

  it('does not redact placeholders after a secret key name', () => {
    const text = 'password=${DB_PASSWORD} token: null secret=<your-secret> pwd=********';
    assert.deepEqual(redact(text).pointers, []);
  });

  it('leaves numbers, booleans and null under innocent keys', () => {
    const input = { card: 4111111111111111, ok: true, none: null };
    assert.equal(redact(input).value, input);
  });

  it('redacts secrets inside object keys, so that pointers never carry them', () => {
    const input = { sessions: { [GITHUB_TOKEN]: { user: 'ann' }, other: 1 } };
    const { value, pointers } = redact(input);
    assert.deepEqual(Object.keys(value.sessions), [REDACTED, 'other']);
    assert.deepEqual(pointers, [`/sessions/${REDACTED}`]);
    for (const p of pointers) assert.ok(!p.includes(GITHUB_TOKEN));
  });

  it('keeps both members when two keys redact to the same text', () => {
    const other = GITHUB_TOKEN.slice(0, -1) + 'Q';
    const { value } = redact({ [GITHUB_TOKEN]: 1, [other]: 2 });
    assert.deepEqual(value, { [REDACTED]: 1, [`${REDACTED} (2)`]: 2 });
  });
});

describe('createRedactor: command lines', () => {
  const pw = 'Hx7' + 'q2Lm9' + 'Zr4';
  it('redacts the element after a secret flag in an argument array, and lists its pointer', () => {
    const { value, pointers } = redact({ args: ['psql', '--password', pw, '-h', 'db'] });
    assert.deepEqual(value.args, ['psql', '--password', REDACTED, '-h', 'db']);
    assert.deepEqual(pointers, ['/args/2']);
  });

  it("keeps mysql's -p and redacts what sticks to it", () => {
    const { value } = redact({ args: ['mysql', '-u', 'root', `-p${pw}`] });
    assert.deepEqual(value.args, ['mysql', '-u', 'root', `-p${REDACTED}`]);
  });

  it('leaves a flag followed by the next flag, and -p of other commands', () => {
    const input = { a: ['psql', '--password', '-h', 'db'], b: ['ssh', '-p2222', 'web'], c: ['ls', '-la'] };
    const { value, pointers } = redact(input);
    assert.deepEqual(pointers, []);
    assert.equal(value, input);
  });

  it('honours allowPointers inside an argument array', () => {
    const r = createRedactor({ allowPointers: ['/args/2'] });
    assert.deepEqual(r({ args: ['x', '--token', pw] }).pointers, []);
  });

  it('redacts a flag value in text unless it is a plain word of prose', () => {
    assert.equal(redact(`psql --password ${pw} -h db`).value, `psql --password ${REDACTED} -h db`);
    assert.equal(redact('then use --password to sign in').pointers.length, 0);
    assert.equal(redact('then use --password correcthorsebattery').pointers.length, 1);
  });

  it('redacts the words after AUTH only in a text about Redis', () => {
    assert.equal(redact(`redis-cli AUTH default ${pw}`).value, `redis-cli AUTH ${REDACTED}`);
    assert.equal(redact(`AUTH default ${pw}`).pointers.length, 0);
  });
});

describe('createRedactor: pointers', () => {
  it('escapes ~ and / (RFC 6901 §3)', () => {
    const { pointers } = redact({ 'a/b': { password: 1 }, 'm~n': { token: 2 }, '~/': { secret: 3 } });
    assert.deepEqual(pointers, ['/a~1b/password', '/m~0n/token', '/~0~1/secret']);
  });

  it('lists pointers in document order, and each resolves to a redaction', () => {
    const input = {
      z: [{ password: 'a' }, `see ${GITHUB_TOKEN}`],
      a: { nested: [[{ token: 'b' }]] },
      m: 'nothing here',
    };
    const { value, pointers } = redact(input);
    assert.deepEqual(pointers, ['/z/0/password', '/z/1', '/a/nested/0/0/token']);
    for (const p of pointers) assert.ok(String(resolve(value, p)).includes(REDACTED));
  });
});

describe('createRedactor: non-mutation and sharing', () => {
  it('never mutates its input', () => {
    const input = deepFreeze({
      headers: { authorization: 'Bearer x' },
      list: [{ password: 'p' }, `key ${STRIPE_KEY}`],
      untouched: { deep: { list: [1, 2, 3] } },
    });
    const before = structuredClone(input);
    const { value } = redact(input);
    assert.deepEqual(input, before);
    assert.notEqual(value, input);
    assert.equal(value.untouched, input.untouched, 'untouched subtrees are shared');
    assert.notEqual(value.list, input.list);
  });

  it('returns the same object when there is nothing to redact', () => {
    const input = { a: [1, 'two', { three: 3 }], b: 'a short sentence with 42 in it' };
    assert.equal(redact(input).value, input);
  });

  it('writes a __proto__ member as a member, never as the prototype', () => {
    const input = JSON.parse('{"__proto__": {"password": "p"}, "ok": 1}') as Record<string, unknown>;
    const { value, pointers } = redact(input);
    assert.deepEqual(pointers, ['/__proto__/password']);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.ok(Object.hasOwn(value, '__proto__'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(value, '__proto__')?.value, { password: REDACTED });
  });

  it('passes class instances and dates through untouched', () => {
    const date = new Date(0);
    const map = new Map([['password', 'p']]);
    const input = { date, map };
    assert.equal(redact(input).value, input);
  });

  it(`replaces subtrees deeper than ${MAX_DEPTH} whole, which also ends cycles`, () => {
    let deep: unknown = { password: 'p' };
    for (let i = 0; i < MAX_DEPTH + 20; i++) deep = [deep];
    const { pointers } = redact(deep);
    assert.equal(pointers.length, 1);
    assert.equal(pointers[0], '/0'.repeat(MAX_DEPTH));

    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    const result = redact(cyclic);
    assert.equal(result.pointers.length, 1);
  });
});

describe('createRedactor: options', () => {
  it('allowKeys keeps a key from being secret, value detectors still apply', () => {
    const r = createRedactor({ allowKeys: ['pwd', 'X-Request-Token'] });
    const { value, pointers } = r({ PWD: '/home/ann', 'x-request-token': `id ${GITHUB_TOKEN}` });
    assert.equal(value.PWD, '/home/ann');
    assert.equal(value['x-request-token'], `id ${REDACTED}`);
    assert.deepEqual(pointers, ['/x-request-token']);
  });

  it('allowValues keeps exact values, under secret keys and inside strings', () => {
    const r = createRedactor({ allowValues: ['changeme', GITHUB_TOKEN] });
    const { value, pointers } = r({ password: 'changeme', note: `use ${GITHUB_TOKEN} or ${STRIPE_KEY}` });
    assert.equal(value.password, 'changeme');
    assert.equal(value.note, `use ${GITHUB_TOKEN} or ${REDACTED}`);
    assert.deepEqual(pointers, ['/note']);
  });

  it('allowValues regexes keep whole values and every secret inside one of their matches', () => {
    const r = createRedactor({ allowValues: [/test-fixture-\w+/, /Bearer 0{8,}/g] });
    const { value } = r({
      password: 'test-fixture-123',
      token: 'not-a-test-fixture-123',
      note: `Authorization: Bearer 00000000 and ${GITHUB_TOKEN}`,
    });
    assert.equal(value.password, 'test-fixture-123');
    assert.equal(value.token, REDACTED, 'a regex must match the whole value under a secret key');
    assert.equal(value.note, `Authorization: Bearer 00000000 and ${REDACTED}`);
  });

  it('allowPointers keeps exact pointers and everything under a prefix', () => {
    const r = createRedactor({ allowPointers: ['/fixtures/', '/meta/password'] });
    const input = {
      fixtures: { token: 't', list: [GITHUB_TOKEN] },
      meta: { password: 'p', token: 't' },
    };
    const { value, pointers } = r(input);
    assert.equal(value.fixtures, input.fixtures);
    assert.equal(value.meta.password, 'p');
    assert.deepEqual(pointers, ['/meta/token']);
    assert.throws(() => createRedactor({ allowPointers: ['meta'] }), /not a JSON pointer/);
  });

  it('extraKeys adds key words (matched as words, in free text too) and key regexes', () => {
    const r = createRedactor({ extraKeys: ['otp', 'mfa code', /^x-internal-/i, 'signature'] });
    const { value, pointers } = r({
      otp: '123456',
      userOtp: '654321',
      mfaCode: '111',
      'X-Internal-Trace': 'abc',
      signature: 'sig',
      hotpot: 'soup',
      log: 'login with OTP=987654 ok',
    });
    assert.deepEqual(pointers, ['/otp', '/userOtp', '/mfaCode', '/X-Internal-Trace', '/signature', '/log']);
    assert.equal(value.hotpot, 'soup');
    assert.equal(value.log, `login with OTP=${REDACTED} ok`);
    assert.throws(() => createRedactor({ extraKeys: ['--'] }), /letter or digit/);
  });

  it('extraPatterns redact matches, or their `secret` group, subject to validate', () => {
    const r = createRedactor({
      extraPatterns: [
        { name: 'acme', pattern: /acme_[a-z0-9]{8}/, validate: (m) => !m.endsWith('0000') },
        { name: 'ticket-pin', pattern: /PIN (?<secret>\d{4})/g },
      ],
    });
    const { value, pointers } = r({
      a: 'key acme_ab12cd34 here',
      b: 'acme_abcd0000',
      c: 'PIN 1234 for you',
      d: 'x',
    });
    assert.equal(value.a, `key ${REDACTED} here`);
    assert.equal(value.b, 'acme_abcd0000');
    assert.equal(value.c, `PIN ${REDACTED} for you`);
    assert.deepEqual(pointers, ['/a', '/c']);
  });
});

describe('createRedactor: cost', () => {
  const median = (f: () => void): number => {
    const runs: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      f();
      runs.push(performance.now() - t0);
    }
    return runs.sort((a, b) => a - b)[3]!;
  };

  it('scans a 10 KB string without secrets in well under 10 ms', () => {
    const prose = 'The agent looked up order 12345 at 2024-06-01T12:00:00Z and counted tokens used: 812. ';
    const text = prose.repeat(Math.ceil(10240 / prose.length)).slice(0, 10240);
    assert.equal(redact(text).value, text);
    const ms = median(() => redact(text));
    assert.ok(ms < 10, `${ms.toFixed(2)} ms`);
  });

  it('stays linear on adversarial 10 KB inputs', () => {
    const inputs = [
      'eyJ'.repeat(3400),
      'a:'.repeat(2000) + 'token',
      'token:'.repeat(1700),
      '='.repeat(10240),
      'Bearer '.repeat(1460),
      'aws ' + 'A'.repeat(10240),
      'secret ' + 'Ab1/'.repeat(2560),
      '4111 '.repeat(2048),
      '-----BEGIN PRIVATE KEY-----'.repeat(380),
      '://a:'.repeat(2048),
      'x@'.repeat(5120) + '://',
      '"password": "'.repeat(790),
      'token ' + 'a='.repeat(5000),
      'secret ' + 'aws '.repeat(2500),
    ];
    for (const text of inputs) {
      const ms = median(() => redact(text));
      assert.ok(ms < 50, `${JSON.stringify(text.slice(0, 20))}…: ${ms.toFixed(2)} ms`);
    }
  });
});

describe('createRedactor: properties', () => {
  const secrets = [
    GITHUB_TOKEN,
    STRIPE_KEY,
    'Authorization: Bearer abc.def',
    'postgres://u:pw123456@h/db',
    '4111 1111 1111 1111',
  ];
  const leaf = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom(...secrets),
    fc.tuple(fc.string(), fc.constantFrom(...secrets), fc.string()).map(([a, s, b]) => `${a} ${s} ${b}`),
  );
  const key = fc.oneof(
    fc.string(),
    fc.constantFrom('password', 'token', 'a/b', 'm~n', 'author', GITHUB_TOKEN),
  );
  const { value: json } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
    ),
  }));

  it('does not mutate, leaves no secret, lists resolvable pointers in document order, and is idempotent', () => {
    fc.assert(
      fc.property(json, (input) => {
        const before = structuredClone(input);
        const { value, pointers } = redact(input);
        assert.deepEqual(input, before);
        const text = JSON.stringify(value) ?? '';
        for (const s of [GITHUB_TOKEN, STRIPE_KEY, 'abc.def', 'pw123456', '4111 1111 1111 1111']) {
          assert.ok(!text.includes(s));
        }
        const order = allPointers(value);
        let last = -1;
        for (const p of pointers) {
          const at = order.indexOf(p);
          assert.ok(at > last, `${p} out of order in ${JSON.stringify(pointers)}`);
          last = at;
          const node = resolve(value, p);
          assert.ok(p.endsWith(REDACTED) || (typeof node === 'string' && node.includes(REDACTED)), p);
        }
        const again = redact(value);
        assert.deepEqual(again.pointers, []);
        assert.equal(again.value, value);
      }),
      { numRuns: 300 },
    );
  });
});
