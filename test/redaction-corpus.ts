/**
 * The redaction corpus: real-format secrets with synthetic values, secrets given as command-line
 * arguments, and look-alikes that must stay. Shared by the redactor's unit suite
 * (src/redact/corpus.test.ts) and the at-rest scan (test/integration/secrets-at-rest.test.ts).
 *
 * Every secret is assembled at run time from a seeded generator, so no literal in this file has
 * the shape a secret scanner (GitHub push protection, gitleaks, trufflehog) flags.
 */
import { luhnValid } from '../src/redact/value-patterns.js';

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
  if (!(/[A-Z]/.test(alphabet) && /[a-z]/.test(alphabet) && /\d/.test(alphabet))) {
    throw new Error('mixed: the alphabet lacks a kind of character');
  }
  for (;;) {
    const text = rand(alphabet, length);
    if (/[A-Z]/.test(text) && /[a-z]/.test(text) && /\d/.test(text)) return text;
  }
}

/** Random hex with at least one letter and one digit. */
function hex(length: number): string {
  for (;;) {
    const text = rand(HEX, length);
    if (/[a-f]/.test(text) && /\d/.test(text)) return text;
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
export function card(prefix: string, length: number): string {
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

/** One secret format. */
export interface Secret {
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
  const proxyBasic = b64('proxy:' + password());
  add(
    'Proxy-Authorization Basic',
    'basic-credential',
    'Proxy-Authorization: Basic ' + proxyBasic,
    proxyBasic,
  );
  add('HS256 JWT', 'jwt', hs256);
  add(
    'RS256 JWT',
    'jwt',
    jwt({ alg: 'RS256', kid: rand(HEX, 16) }, { sub: 'svc', scope: 'read write' }, 342),
  );
  const unsigned = jwt({ alg: 'none' }, { sub: 'admin', role: 'root', n: rand(ALNUM, 12) }, 0);
  add('unsigned JWT (alg none)', 'jwt', unsigned, unsigned.slice(0, -1));

  for (const label of [
    'RSA PRIVATE KEY',
    'PRIVATE KEY',
    'EC PRIVATE KEY',
    'DSA PRIVATE KEY',
    'OPENSSH PRIVATE KEY',
    'ENCRYPTED PRIVATE KEY',
    'PGP PRIVATE KEY BLOCK',
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
  const awsSecret3 = mixed(B64, 40);
  add(
    'AWS key pair on one line',
    'aws-secret-access-key',
    'AK' + 'IA' + rand(BASE32, 16) + ' ' + awsSecret3,
    awsSecret3,
  );
  const awsSecret4 = mixed(B64, 40);
  add(
    '"secret access key" in prose',
    'aws-secret-access-key',
    'the secret access key is ' + awsSecret4,
    awsSecret4,
  );

  for (const kind of ['p', 'o', 'u', 's', 'r']) {
    add(`GitHub gh${kind}_ token`, 'github-token', 'gh' + kind + '_' + mixed(ALNUM, 36));
  }
  add(
    'GitHub fine-grained PAT',
    'github-token',
    'github' + '_pat_' + mixed(ALNUM, 22) + '_' + mixed(ALNUM, 59),
  );
  for (const kind of ['pat', 'dt', 'rt', 'ptt', 'ft']) {
    add(`GitLab gl${kind}- token`, 'gitlab-token', 'gl' + kind + '-' + mixed(ALNUM + '_-', 20));
  }

  for (const kind of ['b', 'p', 'a', 'r', 's', 'o']) {
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
  const workflowSecret = mixed(ALNUM, 32);
  add(
    'Slack workflow webhook',
    'slack-webhook',
    'https://hooks.slack.com/workflows/T' +
      rand(UPPER + DIGITS, 8) +
      '/A' +
      rand(DIGITS, 10) +
      '/' +
      workflowSecret,
    workflowSecret,
  );

  add('Stripe live secret key', 'stripe-key', 'sk' + '_live_' + mixed(ALNUM, 24));
  add('Stripe live restricted key', 'stripe-key', 'rk' + '_live_' + mixed(ALNUM, 24));
  add('Stripe test secret key', 'stripe-key', 'sk' + '_test_' + mixed(ALNUM, 24));
  add('Stripe test restricted key', 'stripe-key', 'rk' + '_test_' + mixed(ALNUM, 99));
  add('Stripe webhook secret', 'stripe-key', 'wh' + 'sec_' + mixed(ALNUM, 32));

  add('OpenAI legacy key', 'openai-key', 'sk' + '-' + mixed(ALNUM, 20) + 'T3Blbk' + 'FJ' + mixed(ALNUM, 20));
  add('OpenAI project key', 'openai-key', 'sk' + '-proj-' + mixed(B64URL, 156));
  add('OpenAI service-account key', 'openai-key', 'sk' + '-svcacct-' + mixed(B64URL, 74));
  add('OpenAI admin key', 'openai-key', 'sk' + '-admin-' + mixed(B64URL, 74));
  add('Anthropic key', 'anthropic-key', 'sk' + '-ant-api03-' + mixed(B64URL, 93) + 'AA');
  add('Google API key', 'google-api-key', 'AI' + 'za' + mixed(B64URL, 35));
  add('Hugging Face token', 'huggingface-token', 'hf' + '_' + rand(UPPER, 3) + rand(LOWER + UPPER, 31));
  add('npm token', 'npm-token', 'npm' + '_' + mixed(ALNUM, 36));

  // Azure
  const accountKey = mixed(B64, 86) + '==';
  add(
    'Azure Storage connection string',
    'azure-key',
    `DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey=${accountKey};EndpointSuffix=core.windows.net`,
    accountKey,
  );
  const sbKey = mixed(B64, 43) + '=';
  add(
    'Azure Service Bus connection string',
    'azure-key',
    `Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${sbKey}`,
    sbKey,
  );
  const sasSig = mixed(ALNUM, 20) + '%2B' + mixed(ALNUM, 19) + '%3D';
  add(
    'Azure SAS token',
    'azure-key',
    `sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-01-01T00:00:00Z&spr=https&sig=${sasSig}`,
    sasSig,
  );
  const sasSig2 = mixed(ALNUM, 43) + '%3D';
  add('Azure SAS signature alone', 'azure-key', 'sig=' + sasSig2, sasSig2);
  const sasSig3 = mixed(ALNUM, 43) + '%3D';
  add(
    'Azure blob SAS URL',
    'signed-url-signature',
    `https://acme.blob.core.windows.net/exports/a.csv?sp=r&st=2026-01-01T00:00:00Z&sig=${sasSig3}`,
    sasSig3,
  );

  // Twilio, SendGrid, Mailgun
  add('Twilio API key SID', 'twilio', 'SK' + hex(32));
  const twilioToken = hex(32);
  add('Twilio auth token near its name', 'twilio', 'Twilio auth token is ' + twilioToken, twilioToken);
  add('SendGrid API key', 'sendgrid-key', 'SG.' + mixed(B64URL, 22) + '.' + mixed(B64URL, 43));
  add('Mailgun API key', 'mailgun-key', 'key-' + hex(32));

  // Shopify, Square
  for (const kind of ['at', 'ca', 'pa', 'ss']) {
    add(`Shopify shp${kind}_ token`, 'shopify-token', 'shp' + kind + '_' + hex(32));
  }
  add('Square access token', 'square-token', 'EAAA' + mixed(B64URL, 60));
  add('Square OAuth access token', 'square-token', 'sq0' + 'atp-' + mixed(B64URL, 22));
  add('Square application secret', 'square-token', 'sq0' + 'csp-' + mixed(B64URL, 43));

  // Discord, Telegram
  const botId = '1' + rand(DIGITS, 18);
  add(
    'Discord bot token',
    'discord-bot-token',
    b64url(botId) + '.' + mixed(B64URL, 6) + '.' + mixed(B64URL, 38),
  );
  const telegram = rand('123456789', 1) + rand(DIGITS, 9) + ':AA' + mixed(B64URL, 33);
  add('Telegram bot token', 'telegram-bot-token', telegram);
  const telegram2 = rand('123456789', 1) + rand(DIGITS, 8) + ':AA' + mixed(B64URL, 33);
  add(
    'Telegram bot API URL',
    'telegram-bot-token',
    `https://api.telegram.org/bot${telegram2}/sendMessage`,
    telegram2,
  );

  // Package registries, secret managers, Databricks
  add('PyPI token', 'pypi-token', 'pypi-AgEIcHlwaS5vcmc' + mixed(B64URL, 160));
  add('TestPyPI token', 'pypi-token', 'pypi-AgENdGVzdC5weXBpLm9yZw' + mixed(B64URL, 120));
  add('Vault service token', 'vault-token', 'hvs.' + mixed(B64URL, 91));
  add('Vault batch token', 'vault-token', 'hvb.' + mixed(B64URL, 138));
  add('Vault recovery token', 'vault-token', 'hvr.' + mixed(B64URL, 24));
  add('Doppler service token', 'doppler-token', 'dp.st.prd.' + mixed(ALNUM, 43));
  add('Doppler CLI token', 'doppler-token', 'dp.ct.' + mixed(ALNUM, 43));
  add('Doppler personal token', 'doppler-token', 'dp.pt.' + mixed(ALNUM, 43));
  add('Doppler service-account token', 'doppler-token', 'dp.sa.' + mixed(ALNUM, 43));
  add('Databricks token', 'databricks-token', 'dapi' + hex(32));
  add('Databricks token with suffix', 'databricks-token', 'dapi' + hex(32) + '-2');

  // Cards
  add('Visa, contiguous', 'card-number', card('4', 16));
  add('Visa, 13 digits', 'card-number', card('4', 13));
  add('Mastercard, dashes', 'card-number', group(card('5', 16), [4, 4, 4, 4], '-'));
  add('Mastercard 2-series', 'card-number', card('2221', 16));
  add('Amex, 4-6-5 spaces', 'card-number', group(card('37', 15), [4, 6, 5], ' '));
  add('Discover, spaces', 'card-number', group(card('6011', 16), [4, 4, 4, 4], ' '));
  add('JCB', 'card-number', card('35', 16));
  add('Diners, 4-6-4', 'card-number', group(card('36', 14), [4, 6, 4], ' '));

  // URLs
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
  const amqp = password();
  add('AMQP URL', 'url-password', `amqps://worker:${amqp}@mq.internal/vhost`, amqp);
  const mysqlUrl = password();
  add('MySQL URL', 'url-password', `mysql://root:${mysqlUrl}@127.0.0.1:3306/shop`, mysqlUrl);
  const ftp = password();
  add('FTP URL', 'url-password', `ftp://backup:${ftp}@files.example.com/dump.sql`, ftp);
  const signature = rand(HEX, 64);
  add(
    'S3 presigned URL',
    'signed-url-signature',
    'https://bucket.s3.amazonaws.com/report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900' +
      '&X-Amz-Signature=' +
      signature,
    signature,
  );
  const gcsSignature = rand(HEX, 128);
  add(
    'GCS signed URL',
    'signed-url-signature',
    'https://storage.googleapis.com/acme/a.zip?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=' +
      gcsSignature,
    gcsSignature,
  );

  // key = value in free text
  const dbPassword = password();
  add('.env line', 'secret-assignment', 'DB_PASSWORD=' + dbPassword, dbPassword);
  const apiKey = mixed(ALNUM, 32);
  add('embedded JSON', 'secret-assignment', `{"api_key": "${apiKey}", "region": "eu"}`, apiKey);
  const escapedKey = mixed(ALNUM, 32);
  add('escaped JSON', 'secret-assignment', `{\\"token\\": \\"${escapedKey}\\"}`, escapedKey);
  const yamlPassword = password();
  add('YAML line', 'secret-assignment', 'password: ' + yamlPassword, yamlPassword);
  const cliPassword = password();
  add('CLI flag with =', 'secret-assignment', 'psql --password=' + cliPassword, cliPassword);
  const headerKey = mixed(ALNUM, 40);
  add('X-Api-Key header', 'secret-assignment', 'X-Api-Key: ' + headerKey, headerKey);
  const session = mixed(ALNUM, 24);
  add('Cookie header', 'secret-assignment', `Cookie: session=${session}; theme=dark`, session);
  const setCookie = mixed(ALNUM, 32);
  add('Set-Cookie header', 'secret-assignment', `Set-Cookie: sid=${setCookie}; Path=/; HttpOnly`, setCookie);
  const queryToken = mixed(ALNUM, 32);
  add(
    'access_token in a query string',
    'secret-assignment',
    `https://api.example.com/v1/me?access_token=${queryToken}&fields=id`,
    queryToken,
  );
  const clientSecret = mixed(ALNUM, 40);
  add(
    'client_secret in a form body',
    'secret-assignment',
    `grant_type=client_credentials&client_secret=${clientSecret}`,
    clientSecret,
  );
  const pgEnv = password();
  add('PGPASSWORD=X cmd', 'secret-assignment', `PGPASSWORD=${pgEnv} psql -h db.internal -U app`, pgEnv);
  const mysqlEnv = password();
  add('MYSQL_PWD=X cmd', 'secret-assignment', `MYSQL_PWD=${mysqlEnv} mysql -u app shop`, mysqlEnv);

  // Secrets given as command-line arguments
  const flagPassword = password();
  add('--password X', 'secret-flag', `psql --password ${flagPassword} -h db.internal`, flagPassword);
  const flagToken = mixed(ALNUM, 30);
  add('-token X', 'secret-flag', `vault login -token ${flagToken}`, flagToken);
  const flagApiKey = mixed(ALNUM, 32);
  add('--api-key "X"', 'secret-flag', `acme-cli deploy --api-key "${flagApiKey}" --region eu`, flagApiKey);
  const flagClientSecret = password();
  add(
    "--client-secret 'X'",
    'secret-flag',
    `oauth2c --client-secret '${flagClientSecret}'`,
    flagClientSecret,
  );
  const mysqlP = password();
  add('mysql -pX', 'mysql-password-argument', `mysql -h db.internal -u root -p${mysqlP} shop`, mysqlP);
  const mysqldumpP = password();
  add(
    "mysqldump -p'X'",
    'mysql-password-argument',
    `mysqldump -u backup -p'${mysqldumpP}' --all-databases`,
    mysqldumpP,
  );
  const mariadbP = password();
  add('mariadb -pX', 'mysql-password-argument', `mariadb -uadmin -p${mariadbP}`, mariadbP);
  const sshpassP = password();
  add('sshpass -p X', 'sshpass-password', `sshpass -p ${sshpassP} ssh deploy@web-1`, sshpassP);
  const sshpassP2 = password();
  add('sshpass -v -p X', 'sshpass-password', `sshpass -v -p '${sshpassP2}' scp a.tgz web-1:`, sshpassP2);
  const redisA = password();
  add('redis-cli -a X', 'redis-password', `redis-cli -h cache.internal -a ${redisA} PING`, redisA);
  const redisPass = password();
  add('redis-cli --pass X', 'redis-password', `redis-cli --user app --pass ${redisPass}`, redisPass);
  const redisAuth = password();
  add('redis-cli AUTH user X', 'redis-password', `redis-cli AUTH default ${redisAuth}`, redisAuth);

  // base64-encoded JSON carrying a secret key name
  const inB64 = password();
  const compact = b64(JSON.stringify({ user: 'svc', password: inB64 }));
  add('base64 JSON with a password', 'base64-json', compact, compact.slice(0, -4));
  const spaced = b64(`{ "api_key": "${mixed(ALNUM, 32)}" }`);
  add('base64 JSON, spaced', 'base64-json', spaced, spaced.slice(4, -4));
  const pretty = b64(JSON.stringify({ auth: { client_secret: mixed(ALNUM, 40) } }, null, 2));
  add('base64 pretty-printed JSON', 'base64-json', pretty, pretty.slice(4, -4));
  const urlSafe = b64url(JSON.stringify({ refresh_token: mixed(B64URL, 48), exp: 1718000000 }));
  add('base64url JSON with a refresh token', 'base64-json', urlSafe, urlSafe.slice(4, -4));
  return list;
}

/** Real-format secrets, one format each. */
export const SECRETS: readonly Secret[] = secrets();

/** A command line as an argument array, and the secret inside it. */
export interface ArgvSecret {
  readonly name: string;
  readonly argv: readonly string[];
  readonly core: string;
}

function argvSecrets(): ArgvSecret[] {
  const pw = (): string => password();
  const list: ArgvSecret[] = [];
  const add = (name: string, build: (secret: string) => string[]): void => {
    const secret = pw();
    list.push({ name, argv: build(secret), core: secret });
  };
  add('["--password", X]', (s) => ['psql', '-h', 'db', '--password', s]);
  add('["--password", X] alone', (s) => ['--password', s]);
  add('["--api-key", X]', (s) => ['acme', 'deploy', '--api-key', s]);
  add('["mysql", "-pX"]', (s) => ['mysql', '-u', 'root', `-p${s}`, 'shop']);
  add('["/usr/bin/mysqldump", "-pX"]', (s) => ['/usr/bin/mysqldump', `-p${s}`, '--all-databases']);
  add('["sshpass", "-p", X]', (s) => ['sshpass', '-p', s, 'ssh', 'web-1']);
  add('["redis-cli", "-a", X]', (s) => ['redis-cli', '-a', s, 'PING']);
  add('["redis-cli", "AUTH", user, X]', (s) => ['redis-cli', 'AUTH', 'default', s]);
  add('["AUTH", user, X]', (s) => ['AUTH', 'default', s]);
  return list;
}

/** Secrets inside argument arrays (each element a string of its own). */
export const ARGV_SECRETS: readonly ArgvSecret[] = argvSecrets();

/** A value that must stay untouched; `key` places it under that key name. */
export interface LookAlike {
  readonly name: string;
  readonly value: unknown;
  readonly key?: string;
}

function lookAlikes(): LookAlike[] {
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
    {
      name: 'the secret santa draw id (40 mixed-case characters)',
      value: 'The secret santa draw id is ' + mixed(ALNUM, 40),
    },
    { name: 'a 40-character id after "draws"', value: 'draws ' + mixed(ALNUM, 40) },
    { name: 'a secret name, not a secret', value: 'secretName: app-tls' },
    { name: 'tokenizer symbol', value: 'eos_token: </s>' },
    { name: 'Stripe publishable key (public by design)', value: 'pk' + '_live_' + mixed(ALNUM, 24) },
    { name: 'e-mail address', value: 'ann@example.com' },
    { name: 'password in prose', value: 'Reset your password at https://example.com/reset' },
    { name: 'AWS account id', value: 'account 123456789012' },
    {
      name: 'Azure account name without a key',
      value: 'AccountName=acmelogs;EndpointSuffix=core.windows.net',
    },
    { name: 'SAS signature placeholder', value: 'https://acme.blob.core.windows.net/x?sig=<signature>' },
    { name: 'Twilio account SID (an identifier)', value: 'AC' + hex(32) },
    { name: 'Twilio message SID near the word Twilio', value: 'Twilio message SM' + hex(32) + ' delivered' },
    { name: '"SK" words', value: 'SKU SK-1234 was skipped by the task runner' },
    { name: 'key-value in prose', value: 'a key-value store with key-ordering and keyless entry' },
    { name: 'Mailgun public validation key', value: 'pub' + 'key-' + hex(32) },
    { name: '"SG." in prose', value: 'See SG. 4 and SG.12 for details' },
    { name: 'Square application id (public)', value: 'sq0' + 'idp-' + mixed(B64URL, 22) },
    { name: 'Shopify-like word', value: 'shop_at_home and shpat without a token' },
    { name: 'dotted Java class name', value: 'com.example.very_long_package_name.Module.Class' },
    { name: 'clock time with seconds', value: 'at 12:30:45 and 2024-06-01 08:00:00' },
    { name: 'PyPI project URL', value: 'https://pypi.org/project/pypi-simple/' },
    { name: 'Vault secret path', value: 'vault kv get secret/data/app (hvs tokens rotate daily)' },
    { name: 'dapi in prose', value: 'the dapi endpoint is documented' },
    { name: 'base64 JSON without a secret', value: b64(JSON.stringify({ user: 'ann', role: 'admin' })) },
    { name: 'base64 JSON with a token count', value: b64(JSON.stringify({ max_tokens: 4096, model: 'm' })) },
    { name: 'JWT header alone', value: b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' })) },
    { name: 'flag followed by a prose word', value: 'use --password to sign in, or --token instead' },
    { name: 'flag followed by the next flag', value: 'psql --password -h db.internal' },
    { name: 'flag with a placeholder', value: 'vault login -token $VAULT_TOKEN' },
    { name: 'password file flag', value: 'mysql --password-file /run/secrets/db.pw' },
    { name: 'password from stdin', value: 'docker login --password-stdin registry.example.com' },
    { name: 'mysql with a port and a prompt', value: 'mysql -h db -P 3306 -u app -p' },
    { name: 'ssh port flag', value: 'ssh -p 2222 deploy@web-1 && scp -P 2222 a.tgz web-1:' },
    { name: 'sshpass reading a file', value: 'sshpass -f /run/pw ssh web-1' },
    { name: 'redis-cli without a password', value: 'redis-cli -h cache.internal PING' },
    { name: 'AUTH in a log line without Redis', value: 'AUTH OK for session 42' },
    { name: 'non-secret flags', value: 'kubectl --namespace prod --max-tokens 4096 --session-id abc123' },
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
    { name: 'password_file key', key: 'password_file', value: '/run/secrets/db.pw' },
    { name: 'argv without secrets', key: 'args', value: ['ls', '-la', '--color', 'auto'] },
    { name: 'argv with a non-secret flag', key: 'argv', value: ['git', '--work-tree', '/srv/app', 'status'] },
  ];
}

/** Values that look like secrets and are not. */
export const LOOK_ALIKES: readonly LookAlike[] = lookAlikes();
