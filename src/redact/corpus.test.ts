// The acceptance corpus (test/redaction-corpus.ts): every secret format in several positions,
// secrets inside argument arrays, and look-alikes that must stay. It is the regression suite of
// the redactor: a format it once caught, it must keep catching.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ARGV_SECRETS, LOOK_ALIKES, SECRETS } from '../../test/redaction-corpus.js';
import { isSecretKey } from './key-names.js';
import { createRedactor, REDACTED } from './redact.js';
import { assignmentDetector, base64JsonDetector, BUILTIN_DETECTORS, flagDetector } from './value-patterns.js';
import type { Detector } from './value-patterns.js';

const redact = createRedactor();

const ALL_DETECTORS: readonly Detector[] = [
  ...BUILTIN_DETECTORS,
  assignmentDetector(isSecretKey, null),
  flagDetector(isSecretKey, null),
  base64JsonDetector((text) => redact(text).value !== text),
];

function detectorNamed(name: string): Detector {
  const found = ALL_DETECTORS.find((d) => d.name === name);
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
  it('has at least 100 secret formats covering every detector', () => {
    assert.ok(SECRETS.length + ARGV_SECRETS.length >= 100, `only ${SECRETS.length}`);
    assert.equal(new Set(SECRETS.map((s) => s.name)).size, SECRETS.length, 'names are unique');
    const covered = new Set(SECRETS.map((s) => s.detector));
    for (const d of ALL_DETECTORS) assert.ok(covered.has(d.name), `no corpus entry for ${d.name}`);
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

describe('corpus: secrets in argument arrays', () => {
  for (const secret of ARGV_SECRETS) {
    it(`redacts ${secret.name} as params, nested and in a sentence`, () => {
      const input = {
        params: { args: secret.argv },
        steps: [{ run: [secret.argv] }],
        // A bare `AUTH` counts as Redis's only where the text mentions Redis.
        note: `ran ${secret.argv.join(' ')} on the Redis host twice`,
      };
      const { value, pointers } = redact(input);
      const json = JSON.stringify(value);
      assert.ok(!json.includes(secret.core), json);
      assert.ok(pointers.some((p) => p.startsWith('/params/args/')));
      assert.ok(pointers.some((p) => p.startsWith('/steps/0/run/0/')));
      assert.ok(pointers.includes('/note'), `${pointers.join(' ')}`);
      // The command stays readable: only the secret's element changes.
      const args = value.params.args;
      assert.equal(args.length, secret.argv.length);
      assert.equal(
        args.filter((a, i) => a !== secret.argv[i]).length,
        pointers.filter((p) => p.startsWith('/params/')).length,
      );
      assert.equal(args[0], secret.argv[0]);
    });
  }
});

describe('corpus: look-alikes that are not secrets', () => {
  it('has at least 60 look-alikes', () => assert.ok(LOOK_ALIKES.length >= 60, `only ${LOOK_ALIKES.length}`));

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
