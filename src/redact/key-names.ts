/**
 * Secret-bearing key names.
 *
 * A key is split into lower-case words at camelCase boundaries and at every character that
 * is not a letter or digit (`_`, `-`, `.`, space, ...), then matched as word sequences:
 * `githubToken`, `X-Auth-Token`, `db_password`, `AWS_SECRET_ACCESS_KEY`, `apiKey` and
 * `private-key` are secret; `author`, `monkey`, `keyboard`, `passenger` and `secretary` are
 * not, because no word of theirs is a secret word.
 *
 * Decisions worth knowing (each one has a test):
 * - `tokens` (plural) is not secret: in agent telemetry it counts LLM tokens (`max_tokens`,
 *   `input_tokens`, `tokens_used`). A singular `token` followed by a metadata word
 *   (`token_count`, `token_type`, `password_length`, `secret_name`, ...) is metadata, and a
 *   `token` preceded by a non-credential kind (`next_page_token`, `eos_token`) is not a credential.
 * - `signature` is not secret: signatures are public by design (commits, JWS, model
 *   thinking-block signatures). Signatures that act as capabilities, in presigned URL queries,
 *   are caught by the value detectors instead. Add it with `extraKeys: ['signature']`.
 * - `key`, `auth`, `pass` and `session` alone are not secret: they are far more often map keys,
 *   auth *methods*, test outcomes and session ids than credentials.
 * - `pwd` is secret as asked, so the shell variable `PWD` (a directory) is redacted too; keep it
 *   with `allowKeys: ['PWD']`.
 */

/** A secret phrase: a sequence of lower-case words that must appear contiguously in a key. */
type Phrase = readonly string[];

const SECRET_WORDS: ReadonlySet<string> = new Set([
  'token',
  'secret',
  'secrets',
  'password',
  'passwords',
  'passwd',
  'pwd',
  'passphrase',
  'passcode',
  'authorization',
  'cookie',
  'cookies',
  'credential',
  'credentials',
  'creds',
  'bearer',
  'apikey',
  'apikeys',
  'privatekey',
  'secretkey',
  'ssn',
  'cvv',
  'cvv2',
  'cvc',
  'cvc2',
]);

// Two-word phrases; `x-api-key` and `x_api_key` contain `api key`.
const SECRET_PHRASES: readonly Phrase[] = [
  ['api', 'key'],
  ['api', 'keys'],
  ['private', 'key'],
  ['secret', 'key'],
  ['signing', 'key'],
  ['encryption', 'key'],
  ['master', 'key'],
  ['hmac', 'key'],
];

// Lower-case compounds written without a separator: `githubtoken`, `dbpassword`, `clientsecret`.
const SECRET_SUFFIXES: readonly string[] = [
  'token',
  'secret',
  'password',
  'passwd',
  'passphrase',
  'apikey',
  'privatekey',
  'secretkey',
  'cookie',
  'credentials',
];

// A secret word followed by one of these names metadata about the secret, not the secret.
const METADATA_AFTER: ReadonlySet<string> = new Set([
  'count',
  'counts',
  'used',
  'usage',
  'limit',
  'limits',
  'length',
  'len',
  'size',
  'budget',
  'type',
  'types',
  'kind',
  'name',
  'names',
  'endpoint',
  'url',
  'uri',
  'expiry',
  'expires',
  'expiration',
  'expired',
  'ttl',
  'lifetime',
  'policy',
  'required',
  'enabled',
  'set',
  'present',
  'exists',
  'provided',
  'created',
  'updated',
  'version',
  // Where a secret is read from, not the secret: `--password-file /run/pw`, `--password-stdin`.
  'file',
  'path',
  'prompt',
  'stdin',
]);

// `token` preceded by one of these is a cursor, a tokenizer symbol or a count, not a credential.
const NON_CREDENTIAL_TOKEN_KINDS: ReadonlySet<string> = new Set([
  'page',
  'next',
  'prev',
  'previous',
  'cursor',
  'continuation',
  'pagination',
  'sync',
  'resume',
  'idempotency',
  'cancellation',
  'special',
  'eos',
  'bos',
  'pad',
  'unk',
  'sep',
  'cls',
  'mask',
  'stop',
  'max',
  'min',
  'num',
  'total',
]);

// Upper-case runs before a capitalised word (`APIKey` -> `API`, `Key`), capitalised or
// lower-case words, bare upper-case runs, digit runs. Everything else separates words.
const WORD = /\p{Lu}+(?=\p{Lu}\p{Ll})|\p{Lu}?[\p{Ll}\p{Lm}\p{Lo}\p{Mn}]+|\p{Lu}+|\p{N}+/gu;

/**
 * Splits a key into lower-case words at camelCase boundaries and non-alphanumeric characters.
 *
 * @example
 * splitKeyWords('X-Auth-Token') // ['x', 'auth', 'token']
 * splitKeyWords('APIKeyV2')     // ['api', 'key', 'v', '2']
 */
export function splitKeyWords(key: string): string[] {
  const words = key.match(WORD);
  if (words === null) return [];
  for (let i = 0; i < words.length; i++) words[i] = (words[i] as string).toLowerCase();
  return words;
}

function isSecretWord(word: string): boolean {
  if (SECRET_WORDS.has(word)) return true;
  for (const suffix of SECRET_SUFFIXES) {
    if (word.length > suffix.length && word.endsWith(suffix)) return true;
  }
  return false;
}

function phraseAt(words: readonly string[], at: number, phrase: Phrase): boolean {
  if (at + phrase.length > words.length) return false;
  for (let j = 0; j < phrase.length; j++) if (words[at + j] !== phrase[j]) return false;
  return true;
}

/** The default rules on an already split key. */
function matchesDefaultRules(words: readonly string[]): boolean {
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    let length = 0;
    if (isSecretWord(word)) length = 1;
    else {
      for (const phrase of SECRET_PHRASES) {
        if (phraseAt(words, i, phrase)) {
          length = phrase.length;
          break;
        }
      }
    }
    if (length === 0) continue;
    const after = words[i + length];
    if (after !== undefined && METADATA_AFTER.has(after)) continue;
    if (word === 'token' && i > 0 && NON_CREDENTIAL_TOKEN_KINDS.has(words[i - 1] as string)) continue;
    return true;
  }
  return false;
}

/** Which extra rules and exceptions a classifier applies on top of the defaults. */
export interface KeyClassifierOptions {
  /** Extra secret words (split and matched as a word sequence) or regexes tested on the whole key. */
  readonly extraKeys?: readonly (string | RegExp)[];
  /** Key names never treated as secret (exact, case-insensitive). */
  readonly allowKeys?: readonly string[];
}

/** Most distinct key names remembered; a hot ingestion path sees a few hundred at most. */
const CACHE_LIMIT = 4096;
/** Longer keys are classified every time rather than kept in memory. */
const CACHEABLE_KEY_LENGTH = 128;

/**
 * Builds a key-name classifier with a bounded cache (oldest entry evicted first).
 *
 * @example
 * const isSecret = createKeyClassifier({ extraKeys: ['otp'], allowKeys: ['PWD'] });
 * isSecret('user_otp') // true
 * isSecret('PWD')      // false
 */
export function createKeyClassifier(options: KeyClassifierOptions = {}): (key: string) => boolean {
  const extraPhrases: Phrase[] = [];
  const extraRegexes: RegExp[] = [];
  for (const rule of options.extraKeys ?? []) {
    if (rule instanceof RegExp) extraRegexes.push(statelessRegExp(rule));
    else if (typeof rule === 'string') {
      const phrase = splitKeyWords(rule);
      if (phrase.length === 0) throw new TypeError('extraKeys: a key word must contain a letter or digit');
      extraPhrases.push(phrase);
    } else throw new TypeError('extraKeys: expected strings or regular expressions');
  }
  const allowed = new Set((options.allowKeys ?? []).map((k) => k.toLowerCase()));
  const cache = new Map<string, boolean>();

  const classify = (key: string): boolean => {
    if (allowed.size > 0 && allowed.has(key.toLowerCase())) return false;
    for (const regex of extraRegexes) if (regex.test(key)) return true;
    const words = splitKeyWords(key);
    for (const phrase of extraPhrases) {
      for (let i = 0; i < words.length; i++) if (phraseAt(words, i, phrase)) return true;
    }
    return matchesDefaultRules(words);
  };

  return (key: string): boolean => {
    const known = cache.get(key);
    if (known !== undefined) return known;
    const secret = classify(key);
    if (key.length <= CACHEABLE_KEY_LENGTH) {
      if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
      cache.set(key, secret);
    }
    return secret;
  };
}

/** A copy of `regex` without the `g` and `y` flags, so that `test()` keeps no state between calls. */
function statelessRegExp(regex: RegExp): RegExp {
  return regex.global || regex.sticky ? new RegExp(regex.source, regex.flags.replace(/[gy]/g, '')) : regex;
}

const defaultClassifier = createKeyClassifier();

/**
 * Whether a key name bears a secret under the default rules (see the module comment).
 *
 * @example
 * isSecretKey('githubToken')  // true
 * isSecretKey('max_tokens')   // false
 * isSecretKey('author')       // false
 */
export function isSecretKey(key: string): boolean {
  return defaultClassifier(key);
}

/**
 * Literals at least one of which every default secret key name written with `_`, `-`, `.` or
 * camelCase contains, lower-cased: the pre-check for `password=...` inside free text.
 */
export const SECRET_KEY_HINTS: readonly string[] = [
  'token',
  'secret',
  'passw',
  'pwd',
  'passphrase',
  'passcode',
  'authorization',
  'cookie',
  'credential',
  'creds',
  'bearer',
  'apikey',
  'privatekey',
  'ssn',
  'cvv',
  'cvc',
  ...SECRET_PHRASES.flatMap((phrase) => ['', '_', '-', '.'].map((joiner) => phrase.join(joiner))),
];
