import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuditError } from '../index.js';
import { defaultDetectConfig, parseDetectConfig, parseDuration } from './config.js';

function refuses(yaml: string, message: RegExp): void {
  assert.throws(
    () => parseDetectConfig(yaml),
    (e: unknown) => e instanceof AuditError && e.code === 'invalid_argument' && message.test(e.message),
  );
}

describe('detect config', () => {
  it('is the defaults when the file has no detect: section', () => {
    assert.deepEqual(parseDetectConfig('exports: []\n'), defaultDetectConfig());
  });

  it('overrides only the fields given', () => {
    const c = parseDetectConfig(
      'detect:\n  name: night\n  poll: 5s\n  detectors:\n    rate: { min_count: 60, cooldown: 2h }\n    exfiltration: { enabled: false }\n',
    );
    assert.equal(c.name, 'night');
    assert.equal(c.poll_ms, 5000);
    assert.equal(c.rate.min_count, 60);
    assert.equal(c.rate.cooldown_ms, 7_200_000);
    assert.equal(c.rate.threshold, defaultDetectConfig().rate.threshold);
    assert.equal(c.exfiltration.enabled, false);
  });

  it('names the field at fault', () => {
    refuses(
      'detect:\n  detectors:\n    rate: { treshold: 3 }\n',
      /detect\.detectors\.rate\.treshold: is not a known field/,
    );
    refuses(
      'detect:\n  detectors:\n    rate: { threshold: -1 }\n',
      /detect\.detectors\.rate\.threshold: must be a number/,
    );
    refuses(
      'detect:\n  detectors:\n    denial_spike: { bucket: 10 minutes }\n',
      /detect\.detectors\.denial_spike\.bucket: must be a duration/,
    );
    refuses('detect:\n  detectors:\n    wat: {}\n', /detect\.detectors\.wat: is not a known field/);
    refuses(
      'detect:\n  detectors:\n    privilege_escalation: { required: { high: root } }\n',
      /tier 'root' is not one of tiers/,
    );
    refuses('detect:\n  rules:\n    - name: r\n      when: "nope.x > 1"\n', /detect\.rules\[0\]\.when: /);
    refuses(
      'detect:\n  rules:\n    - name: r\n      when: "true"\n    - name: r\n      when: "true"\n',
      /used twice/,
    );
    refuses('detect: [1]\n', /detect: must be a mapping/);
  });

  it('reads durations', () => {
    assert.equal(parseDuration('500ms', 'x'), 500);
    assert.equal(parseDuration('3d', 'x'), 259_200_000);
    assert.throws(() => parseDuration('0s', 'x'), /x: must be a duration/);
    assert.throws(() => parseDuration('400d', 'x'), /at most 365d/);
  });
});
