/**
 * Secret detectors for string values.
 *
 * Each detector is a global regex plus a `locate` step that returns the `[start, end)` range to
 * redact, or `undefined` to reject a match that only looks like a secret (a card number failing
 * Luhn, `Basic usage` that does not decode to `user:password`). Only the secret range is
 * replaced, so `curl -H 'Authorization: Bearer abc.def'` keeps `curl -H 'Authorization: Bearer `
 * and the closing quote: an auditor still sees what happened, and never the credential.
 *
 * Every built-in detector names literal `hints`, one of which each of its matches contains; the
 * redactor runs a detector only on strings where the hint scanner (`hint-scanner.ts`) saw one, which leaves the
 * vast majority of strings to a single pass over their characters.
 */

/**
 * An extra value pattern. Every match is redacted, or only its named group `secret` when the
 * pattern has one. `validate` receives the text that would be redacted and may reject it.
 *
 * @example
 * const internal: ValuePattern = {
 *   name: 'acme-token',
 *   pattern: /acme_[a-z0-9]{32}/,
 *   validate: (match) => !match.endsWith('0000'),
 * };
 */
export interface ValuePattern {
  name: string;
  pattern: RegExp;
  validate?: (match: string) => boolean;
}

/** A compiled detector. `pattern` carries the `g` flag, and `d` when `locate` reads group indices. */
export interface Detector {
  readonly name: string;
  /** Literals one of which every match contains (case-insensitive); `null` runs it on every string. */
  readonly hints: readonly string[] | null;
  /** Or: a match holds at least this many digits in a run (see `hint-scanner.ts`). */
  readonly digitRun?: number;
  /** Or: a match holds a `.` right after this many characters of `[A-Za-z0-9_-]`. */
  readonly dotRun?: number;
  readonly pattern: RegExp;
  /** The range to redact for a match, or `undefined` to reject the match. */
  readonly locate: (match: RegExpExecArray, input: string) => Range | undefined;
}

/** A half-open `[start, end)` range of UTF-16 code units. */
export type Range = readonly [start: number, end: number];

/**
 * The Luhn (ISO/IEC 7812-1 Annex B) check over a string of decimal digits. Anything but
 * two or more ASCII digits is invalid; strip spaces and dashes first.
 *
 * @example
 * luhnValid('4111111111111111') // true
 * luhnValid('4111111111111112') // false
 */
export function luhnValid(digits: string): boolean {
  if (digits.length < 2) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    const d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) sum += d > 4 ? d * 2 - 9 : d * 2;
    else sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function whole(match: RegExpExecArray): Range {
  return [match.index, match.index + match[0].length];
}

/** The range of the named group `secret` (the pattern needs the `d` flag), else the whole match. */
function secretGroup(match: RegExpExecArray): Range {
  const range = match.indices?.groups?.['secret'];
  return range === undefined ? whole(match) : range;
}

function wholeIf(accept: (text: string) => boolean) {
  return (match: RegExpExecArray): Range | undefined => (accept(match[0]) ? whole(match) : undefined);
}

/**
 * Capture group 1, the secret, which ends `trailing` characters before the end of the match.
 * Computed from lengths: the `d` flag would tell the same and triple the cost of a match in V8
 * (named groups cost too, so the built-in patterns number theirs).
 */
function tail(trailing: number, accept: (secret: string) => boolean = always) {
  return (match: RegExpExecArray): Range | undefined => {
    const secret = match[1];
    if (secret === undefined || !accept(secret)) return undefined;
    const end = match.index + match[0].length - trailing;
    return [end - secret.length, end];
  };
}

/** The first capture group that took part in the match; each alternative ends with its group. */
function anyTail(match: RegExpExecArray): Range | undefined {
  for (let g = 1; g < match.length; g++) {
    const secret = match[g];
    if (secret === undefined) continue;
    const end = match.index + match[0].length;
    return [end - secret.length, end];
  }
  return undefined;
}

/** The range of the first group that took part (the pattern needs the `d` flag). */
function firstGroup(match: RegExpExecArray): Range | undefined {
  const indices = match.indices;
  if (indices === undefined) return undefined;
  for (let g = 1; g < indices.length; g++) if (indices[g] !== undefined) return indices[g];
  return undefined;
}

const always = (): boolean => true;
const HAS_DIGIT = /\d/;
const HAS_LETTER = /[A-Za-z]/;
const HAS_UPPER = /[A-Z]/;
const HAS_LOWER = /[a-z]/;

// RFC 7617: the Basic credential is base64("user-id:password"); a word such as `Basic usage`
// decodes to bytes that are not printable text with a colon.
const utf8 = new TextDecoder('utf-8', { fatal: true });
const BASIC_PLAINTEXT = /^[^:\p{Cc}]+:[^\p{Cc}]*$/u;
function isBasicCredential(b64: string): boolean {
  if (b64.length % 4 === 1) return false;
  let text: string;
  try {
    text = utf8.decode(Buffer.from(b64, 'base64'));
  } catch {
    return false;
  }
  return BASIC_PLAINTEXT.test(text);
}

// RFC 6750 §2.1 token68; without an `Authorization:` in front, demand something that looks
// random so that "the Bearer scheme" or "bearer tokens" in prose stay.
function isBearerCredential(token: string): boolean {
  if (token.length >= 8 && HAS_DIGIT.test(token) && HAS_LETTER.test(token)) return true;
  return token.length >= 20 && HAS_UPPER.test(token) && HAS_LOWER.test(token);
}

// Discord bot tokens start with the bot's user id (a snowflake, 17 to 20 digits) in base64.
function isDiscordToken(token: string): boolean {
  const id = Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('latin1');
  return /^\d{17,20}$/.test(id);
}

// AWS secret access keys are 40 random base64 characters: mixed case, so a 40-hex git SHA
// next to the word "secret" is not one.
function isAwsSecret(text: string): boolean {
  return HAS_UPPER.test(text) && HAS_LOWER.test(text) && /[\d/+]/.test(text);
}

// Card grouping: 13–19 digits, Luhn-valid, first digit 2–6 (Visa, Mastercard, Amex, Discover,
// JCB, Diners, UnionPay). Leading 1 (millisecond timestamps), 7–9 (ISBN-13 978/979) excluded.
function isCardNumber(text: string): boolean {
  const digits = text.replace(/[ -]/g, '');
  return digits.length >= 13 && digits.length <= 19 && luhnValid(digits);
}

/**
 * `AUTH x` counts only in a string that mentions Redis (an upper-case AUTH in a log line is not
 * a command). The answer is kept for the string at hand, so many matches cost one look at it.
 */
function redisLocate(): (match: RegExpExecArray, input: string) => Range | undefined {
  let seen: string | undefined;
  let mentionsRedis = false;
  return (match, input) => {
    if (match[4] !== undefined) {
      if (input !== seen) {
        seen = input;
        mentionsRedis = /redis/i.test(input);
      }
      if (!mentionsRedis) return undefined;
    }
    return firstGroup(match);
  };
}

const GITLAB_PREFIXES = ['pat', 'dt', 'rt', 'ptt', 'ft', 'oas', 'soat', 'cbt', 'imt'];
const SIGNATURE_PARAMS = ['x-amz-signature', 'x-goog-signature', 'sig', 'signature'];

/** The built-in detectors, in no particular order (overlapping ranges are merged). */
export const BUILTIN_DETECTORS: readonly Detector[] = [
  {
    // RFC 7468 §10/§11 labels plus the PKCS#1/SEC1/OpenSSH/PGP variants. An unterminated block
    // (truncated `head` output) is redacted to the end of the string.
    name: 'pem-private-key',
    hints: ['PRIVATE KEY'],
    pattern:
      /-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|$)/g,
    locate: whole,
  },
  {
    // RFC 7519 §3: base64url(header).base64url(payload).base64url(signature); the header is a
    // JSON object, so it starts with `eyJ` (`{"`). The signature is empty for `alg: none`.
    name: 'jwt',
    hints: ['eyJ'],
    pattern: /(?<![\w-])eyJ[\w-]{10,}\.[\w-]{2,}\.[\w-]*/g,
    locate: whole,
  },
  {
    name: 'bearer-credential',
    hints: ['bearer'],
    pattern: /(?<![\w-])bearer[ \t]+([\w.~+/-]*[\w~+/-]=*)/gi,
    locate: tail(0, isBearerCredential),
  },
  {
    name: 'basic-credential',
    hints: ['basic'],
    pattern: /(?<![\w-])basic[ \t]+([A-Za-z0-9+/]{4,}={0,2})(?![\w+/=-])/gi,
    locate: tail(0, isBasicCredential),
  },
  {
    name: 'aws-access-key-id',
    hints: ['AKIA', 'ASIA'],
    pattern: /(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/g,
    locate: whole,
  },
  {
    // Only near its context: the word "aws", "secret key", "secret access key" or an access key
    // id up to 40 characters before, on the same line (`aws_secret_access_key=...`,
    // `AKIA... wJalr...`). "secret" alone is not enough: "the secret santa draw id is ..." stays.
    name: 'aws-secret-access-key',
    hints: ['aws', 'secret', 'AKIA', 'ASIA'],
    pattern:
      /(?:(?<![A-Za-z])aws|secret[ _.-]?(?:access[ _.-]?)?key|(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16})[^\n]{0,40}?(?<![A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
    locate: tail(0, isAwsSecret),
  },
  {
    // ghp_ personal, gho_ OAuth, ghu_ user-to-server, ghs_ server-to-server, ghr_ refresh;
    // fine-grained personal tokens are github_pat_<22>_<59>.
    name: 'github-token',
    hints: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
    pattern:
      /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])/g,
    locate: whole,
  },
  {
    // Personal, deploy, runner, pipeline-trigger, feed, OAuth-app, service-account, CI-build,
    // incoming-mail tokens; newer ones carry `.`-separated parts.
    name: 'gitlab-token',
    hints: GITLAB_PREFIXES.map((p) => `gl${p}-`),
    pattern: new RegExp(
      `(?<![\\w-])gl(?:${GITLAB_PREFIXES.join('|')})-[\\w-]{20,}(?:\\.[\\w-]+)*(?![\\w-])`,
      'g',
    ),
    locate: whole,
  },
  {
    name: 'slack-token',
    hints: ['xoxa-', 'xoxb-', 'xoxp-', 'xoxo-', 'xoxs-', 'xoxr-', 'xapp-'],
    pattern: /(?<![\w-])(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}(?![\w-])/g,
    locate: wholeIf((text) => HAS_DIGIT.test(text)),
  },
  {
    // The path after /services/ is the credential; the host stays so the reader knows what it was.
    name: 'slack-webhook',
    hints: ['hooks.slack.com/'],
    pattern: /hooks\.slack\.com\/(?:services|workflows|triggers)\/([\w/-]{8,})/g,
    locate: tail(0),
  },
  {
    // Secret and restricted keys (live and test) and webhook signing secrets; the publishable
    // `pk_` keys are public and stay.
    name: 'stripe-key',
    hints: ['sk_live_', 'sk_test_', 'rk_live_', 'rk_test_', 'whsec_'],
    pattern:
      /(?<![A-Za-z0-9_])(?:[sr]k_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9+/]{20,}={0,2})(?![A-Za-z0-9_])/g,
    locate: whole,
  },
  {
    name: 'anthropic-key',
    hints: ['sk-ant-'],
    pattern: /(?<![\w-])sk-ant-[\w-]{20,}(?![\w-])/g,
    locate: whole,
  },
  {
    // Legacy `sk-` + 48, project `sk-proj-`, service-account `sk-svcacct-`, admin `sk-admin-`.
    // Demanding 20+ characters with a digit and a letter keeps "task-sk-ew" and `sk-learn`.
    name: 'openai-key',
    hints: ['sk-'],
    pattern: /(?<![\w-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[\w-]{20,}(?![\w-])/g,
    locate: wholeIf((text) => HAS_DIGIT.test(text.slice(3)) && HAS_LETTER.test(text.slice(3))),
  },
  {
    name: 'google-api-key',
    hints: ['AIza'],
    pattern: /(?<![\w-])AIza[\w-]{35}(?![\w-])/g,
    locate: whole,
  },
  {
    name: 'huggingface-token',
    hints: ['hf_'],
    pattern: /(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])/g,
    locate: wholeIf((text) => HAS_UPPER.test(text) && HAS_LOWER.test(text)),
  },
  {
    name: 'npm-token',
    hints: ['npm_'],
    pattern: /(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/g,
    locate: whole,
  },
  {
    // Contiguous 13–19 digits, 4-4-4-4(-3) or 4-6-5/4-6-4 (Amex, Diners) with one kind of
    // separator; not inside a longer word, number, decimal, date, path or `+` phone number.
    name: 'card-number',
    hints: [],
    digitRun: 13,
    pattern:
      /(?<![\w.,+/:-])(?:[2-6]\d{12,18}|[2-6]\d{3}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|3\d{3}([ -])\d{6}\2\d{4,5})(?![\w]|[.,]\d)/g,
    locate: (match) => {
      if (isCardNumber(match[0])) return whole(match);
      // 4-4-4-4 then a 3-digit group that is not part of it ("... 1111 004"): the first 16 may be a card.
      const head = match[0].slice(0, 19);
      if (match[1] !== undefined && match[0].length === 23 && isCardNumber(head)) {
        return [match.index, match.index + head.length];
      }
      return undefined;
    },
  },
  {
    // RFC 3986 §3.2.1 userinfo "user:password@": only the password goes; scheme, user, host and
    // path stay. The password may contain unescaped `@` or `:`; the last `@` ends it.
    name: 'url-password',
    hints: ['://'],
    pattern: /:\/\/[^\s:/?#@"'<>]*:([^\s/?#"'<>]+)@/g,
    locate: tail(1),
  },
  {
    // Presigned URLs (S3 SigV4, GCS V4, Azure SAS `sig`) are bearer capabilities until they expire.
    name: 'signed-url-signature',
    hints: SIGNATURE_PARAMS.flatMap((p) => [`?${p}=`, `&${p}=`]),
    pattern: new RegExp(`[?&](?:${SIGNATURE_PARAMS.join('|')})=([^&#\\s"'<>]+)`, 'gi'),
    locate: tail(0),
  },
  {
    // Azure Storage and Service Bus / Event Hubs connection strings (`AccountKey=`,
    // `SharedAccessKey=`) and SAS tokens (`sig=`), also outside a URL query.
    name: 'azure-key',
    hints: ['accountkey=', 'sharedaccesskey=', 'sig='],
    pattern:
      /(?<![\w-])(?:(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{20,}={0,2})|sig=([A-Za-z0-9%+/=]{16,}))/gi,
    locate: anyTail,
  },
  {
    // API key SIDs (`SK` + 32 hex) and 32-hex auth tokens near the word "Twilio".
    name: 'twilio',
    hints: ['SK', 'twilio'],
    pattern:
      /(?<![A-Za-z0-9])SK[0-9a-fA-F]{32}(?![A-Za-z0-9])|(?:[Tt]wilio|TWILIO)[^\n]{0,40}?(?<![A-Za-z0-9])([0-9a-f]{32})(?![A-Za-z0-9])/g,
    locate: (match) => (match[1] === undefined ? whole(match) : tail(0)(match)),
  },
  {
    name: 'sendgrid-key',
    hints: ['SG.'],
    pattern: /(?<![\w-])SG\.[\w-]{22}\.[\w-]{43}(?![\w-])/g,
    locate: whole,
  },
  {
    // Mailgun private API keys; `pubkey-` validation keys are public and stay.
    name: 'mailgun-key',
    hints: ['key-'],
    pattern: /(?<![\w-])key-[0-9a-f]{32}(?![\w-])/g,
    locate: whole,
  },
  {
    // Admin API access tokens, custom-app, private-app tokens and shared secrets.
    name: 'shopify-token',
    hints: ['shpat_', 'shpca_', 'shppa_', 'shpss_'],
    pattern: /(?<![\w-])shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?![\w-])/g,
    locate: whole,
  },
  {
    // Access tokens (`EAAA…`), OAuth access and application secrets; `sq0idp-` ids are public.
    name: 'square-token',
    hints: ['EAAA', 'sq0atp-', 'sq0csp-'],
    pattern: /(?<![\w-])(?:EAAA[\w-]{56,100}|sq0(?:atp|csp)-[\w-]{22,60})(?![\w-])/g,
    locate: whole,
  },
  {
    // base64(bot user id) . timestamp . HMAC; the first part must decode to the id's digits.
    name: 'discord-bot-token',
    hints: [],
    dotRun: 23,
    pattern: /(?<![\w-])[MNO][\w-]{22,27}\.[\w-]{6,7}\.[\w-]{27,40}(?![\w-])/g,
    locate: wholeIf(isDiscordToken),
  },
  {
    // <bot id>:<35 characters>; in `https://api.telegram.org/bot<token>/...` after `bot`.
    name: 'telegram-bot-token',
    hints: [':a'],
    pattern: /(?:(?<=bot)|(?<![\w:-]))\d{5,16}:A[\w-]{34}(?![\w-])/g,
    locate: whole,
  },
  {
    // PyPI (and TestPyPI) API tokens are macaroons: `pypi-` + base64 starting `Ag`.
    name: 'pypi-token',
    hints: ['pypi-'],
    pattern: /(?<![\w-])pypi-Ag[\w-]{50,}(?![\w-])/g,
    locate: whole,
  },
  {
    // HashiCorp Vault service, batch and recovery tokens (Vault 1.10+ formats).
    name: 'vault-token',
    hints: ['hvs.', 'hvb.', 'hvr.'],
    pattern: /(?<![\w.-])hv[sbr]\.[\w-]{24,}(?![\w-])/g,
    locate: whole,
  },
  {
    // Service (`dp.st.<config>.`), CLI, personal, service-account, SCIM and audit tokens.
    name: 'doppler-token',
    hints: ['dp.st.', 'dp.ct.', 'dp.pt.', 'dp.sa.', 'dp.scim.', 'dp.audit.'],
    pattern: /(?<![\w.-])dp\.(?:st|ct|pt|sa|scim|audit)\.(?:[\w-]{1,64}\.)?[A-Za-z0-9]{40,44}(?![\w-])/g,
    locate: whole,
  },
  {
    name: 'databricks-token',
    hints: ['dapi'],
    pattern: /(?<![\w-])dapi[0-9a-f]{32}(?:-\d)?(?![\w-])/g,
    locate: whole,
  },
  {
    // `mysql -u root -pSECRET db` (the password sticks to `-p`; `-p SECRET` would prompt and
    // take SECRET as the database). Up to 24 arguments may sit between the command and `-p`.
    name: 'mysql-password-argument',
    hints: ['mysql', 'mariadb'],
    pattern:
      /(?<![\w-])(?:mysql\w{0,16}|mariadb[\w-]{0,16})(?:\.exe)?(?:[ \t]+(?!-p)[^\s;&|]{1,256}){0,24}?[ \t]+-p(?:'([^'\n]{1,256})'|"([^"\n]{1,256})"|([^\s"'`;&|]{1,256}))/dg,
    locate: firstGroup,
  },
  {
    // `sshpass -p SECRET ssh host`, options without an argument (`-v`, `-e`) allowed before `-p`.
    name: 'sshpass-password',
    hints: ['sshpass'],
    pattern:
      /(?<![\w-])sshpass(?:[ \t]+-[A-Za-oq-z]\S{0,16}){0,8}?[ \t]+-p[ \t]*(?:'([^'\n]{1,256})'|"([^"\n]{1,256})"|([^\s"'`;&|]{1,256}))/dg,
    locate: firstGroup,
  },
  {
    // `redis-cli -a SECRET` / `--pass SECRET`, and the `AUTH [user] SECRET` command (both words
    // go: which one is the password depends on the count, which trailing text makes unsure).
    name: 'redis-password',
    hints: ['redis-cli', 'auth '],
    pattern:
      /(?<![\w-])(?:redis-cli(?:[ \t]+(?!-a[ \t]|--pass[ \t])[^\s;&|]{1,256}){0,24}?[ \t]+(?:-a|--pass)[ \t]+(?:'([^'\n]{1,256})'|"([^"\n]{1,256})"|([^\s"'`;&|]{1,256}))|AUTH[ \t]+([^\s"'`;&|]{1,256}(?:[ \t]+[^\s"'`;&|]{1,256})?))/dg,
    locate: redisLocate(),
  },
];

// Values after `password=` that are placeholders rather than secrets.
const PLACEHOLDER =
  /^(?:null|nil|none|undefined|true|false|\*+|\.{3}|…|\$\{?[A-Za-z_]\w*\}?|\{\{[^{}]*\}\}|<[^<>]*>)$/i;

// A secret key name in free text followed by `=`, `:`, `:=` or `=>` and a value: env files
// (`DB_PASSWORD=...`), headers (`X-Api-Key: ...`), query strings (`?access_token=...`), embedded
// JSON or YAML (`"api_key": "..."`, `password: ...`), CLI flags (`--password=...`).
//
// Two steps, so that a key that is not secret costs no look at its value: ASSIGNMENT finds an
// operator and, in a lookbehind, the key before it (the engine stops only at `:` and `=`, not at
// every word); VALUE, anchored after the operator, reads the value when the key is secret.
const ASSIGNMENT = /(?::=|=>|[:=])(?<=(?<![\w.])([A-Za-z_][\w.-]{0,63})(?:\\?["'])?[ \t]*(?::=|=>|[:=]))/g;
// Groups: 1 double-quoted value, ending at the next `"` or `\"` (escaped JSON); 2 single-quoted
// value; 3 bare value, after an HTTP auth scheme, which stays.
const VALUE =
  /[ \t]*(?:\\?"([^"\n]{1,512}?)(?=\\?"|$)|'([^'\n]{1,512})'|(?:(?:bearer|basic|token|digest|bot|negotiate)[ \t]+)?([^\s"'`,;&]{1,512}))/iy;

// `Cookie: a=b; c=d` holds several pairs; take them all.
const COOKIE_PAIRS = /(?:;[ \t]*[^\s;"'`,&]+)*/y;
const COOKIE_KEY = /cookie/i;

/**
 * The detector for `secret_key_name = value` in free text, judging key names with `isSecretKey`.
 * `hints` are literals that every secret key name contains, or `null` when key names cannot be
 * predicted (extra key regexes); then any `=` or `:` lets it run.
 */
export function assignmentDetector(
  isSecretKey: (key: string) => boolean,
  hints: readonly string[] | null,
): Detector {
  return {
    name: 'secret-assignment',
    hints: hints ?? [':', '='],
    pattern: ASSIGNMENT,
    locate: (match, input) => {
      const key = match[1];
      if (key === undefined || !isSecretKey(key)) return undefined;
      VALUE.lastIndex = match.index + match[0].length;
      const value = VALUE.exec(input);
      if (value === null) return undefined;
      // Each value form is a suffix of the match; a single-quoted one is followed by its quote.
      const single = value[2];
      const text = value[1] ?? single ?? value[3];
      if (text === undefined || PLACEHOLDER.test(text)) return undefined;
      let end = value.index + value[0].length - (single === undefined ? 0 : 1);
      const start = end - text.length;
      // A bare value stops before a closing bracket it did not open: `(token: abc)` keeps `)`.
      if (value[3] !== undefined) end = start + unclosedTail(text);
      if (value[3] !== undefined && COOKIE_KEY.test(key)) {
        COOKIE_PAIRS.lastIndex = end;
        if (COOKIE_PAIRS.exec(input) !== null) end = COOKIE_PAIRS.lastIndex;
      }
      return [start, end];
    },
  };
}

// `--password SECRET`, `-token SECRET`: a flag named by a secret key, a space, then its value.
const FLAG = /(?<![\w-])--?([A-Za-z][\w.-]{0,63})[ \t]+/g;
const FLAG_VALUE = /"([^"\n]{1,512})"|'([^'\n]{1,512})'|([^\s"'`;&|]{1,512})/y;
// A plain lower-case word after a flag in prose ("use --password to log in") is not a secret.
const PROSE_WORD = /^[a-z]{1,11}[.,:!?)]?$/;

/**
 * The detector for a secret given as a command-line argument after a flag named by a secret
 * key (`psql --password hunter2`, `vault login -token s3cr3t`). The `--flag=value` form is the
 * assignment detector's. A value starting with `-` is the next flag (`psql --password -h db`).
 */
export function flagDetector(
  isSecretKey: (key: string) => boolean,
  hints: readonly string[] | null,
): Detector {
  return {
    name: 'secret-flag',
    hints: hints ?? ['-'],
    pattern: FLAG,
    locate: (match, input) => {
      const key = match[1];
      if (key === undefined || !isSecretKey(key)) return undefined;
      FLAG_VALUE.lastIndex = match.index + match[0].length;
      const value = FLAG_VALUE.exec(input);
      if (value === null) return undefined;
      const bare = value[3];
      const text = value[1] ?? value[2] ?? bare;
      if (text === undefined || text.startsWith('-') || PLACEHOLDER.test(text)) return undefined;
      if (bare !== undefined && PROSE_WORD.test(bare)) return undefined;
      const start = value.index + (bare === undefined ? 1 : 0);
      return [start, start + text.length];
    },
  };
}

/**
 * The detector for base64 (or base64url) of a JSON object, `{"password": "..."}` as
 * `eyJwYXNzd29yZCI6...`: the blob goes whole when its decoded text holds a secret, as
 * `holdsSecret` (the redactor's own scan) judges. Decoding shrinks the text by a quarter, so even
 * nested blobs cost a bounded multiple of the input's length.
 */
export function base64JsonDetector(holdsSecret: (text: string) => boolean): Detector {
  return {
    name: 'base64-json',
    // `{"`, `{ "`, `{\n ` / `{\n"` / `{\n\t` encoded.
    hints: ['eyJ', 'eyAi', 'ewog', 'ewoi', 'ewoJ'],
    pattern: /(?<![\w+/-])(?:eyJ|eyAi|ewo[giJ])[\w+/-]{13,}={0,2}(?![\w+/=-])/g,
    locate: (match) =>
      holdsSecret(Buffer.from(match[0], 'base64').toString('utf8')) ? whole(match) : undefined,
  };
}

const OPENER: Record<string, string> = { ')': '(', ']': '[', '}': '{', '>': '<' };

/**
 * Length of `text` without the closing brackets at its end that have no opener inside it (and
 * the sentence punctuation after them): `(token: abc)` and `{secret: abc}.` keep their ends.
 */
function unclosedTail(text: string): number {
  let end = text.length;
  for (;;) {
    let k = end;
    while (k > 1 && '.!?'.includes(text[k - 1]!)) k--;
    const close = text[k - 1]!;
    const open = OPENER[close];
    if (open === undefined || k <= 1) return end;
    const body = text.slice(0, k - 1);
    if (body.split(open).length > body.split(close).length) return end;
    end = k - 1;
  }
}

/** Compiles a user {@link ValuePattern} into a detector that runs on every string. */
export function patternDetector(pattern: ValuePattern): Detector {
  if (!(pattern.pattern instanceof RegExp)) {
    throw new TypeError(`extraPatterns: pattern ${JSON.stringify(pattern.name)} is not a RegExp`);
  }
  const source = pattern.pattern;
  const wantsGroup = source.source.includes('(?<secret>');
  let flags = source.flags.replace('y', '');
  if (!flags.includes('g')) flags += 'g';
  if (wantsGroup && !flags.includes('d')) flags += 'd';
  const regex = new RegExp(source.source, flags);
  const validate = pattern.validate;
  return {
    name: pattern.name,
    hints: null,
    pattern: regex,
    locate: (match, input) => {
      const range = wantsGroup ? secretGroup(match) : whole(match);
      if (range[1] <= range[0]) return undefined;
      if (validate !== undefined && !validate(input.slice(range[0], range[1]))) return undefined;
      return range;
    },
  };
}

/**
 * Strings shorter than this are not scanned. Every built-in credential format is longer; only a
 * `key=value` assignment could be shorter (`pwd=abc`), and a three-character value is not worth
 * a scan of every short string on the ingestion path.
 */
export const MIN_SECRET_LENGTH = 8;
