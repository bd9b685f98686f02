import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuditError } from '../errors.js';
import { cutoffOf, durationDays, parseDuration, parsePrivacyConfig, PRESETS } from './retention-config.js';

function refuses(yaml: string, message: RegExp): void {
  assert.throws(
    () => parsePrivacyConfig(yaml, 'auditrail.yaml'),
    (e: unknown) => e instanceof AuditError && e.code === 'invalid_argument' && message.test(e.message),
  );
}

describe('retention config', () => {
  it('reads rules with globs, classification, risk, keep and purge, then the presets fallback', () => {
    const { retention, sampling } = parsePrivacyConfig(
      [
        'retention:',
        '  presets: [soc2, hipaa]',
        '  schedule: { cron: "0 3 * * *", timezone: Europe/Berlin }',
        '  rules:',
        '    - name: routine',
        '      tenant: "acme*"',
        '      type: ["context.*", action.succeeded]',
        '      classification: [public, internal]',
        '      risk: low',
        '      keep: 7y',
        '      purge: all-but-leaf',
      ].join('\n'),
    );
    assert.equal(sampling, null);
    assert.ok(retention);
    assert.deepEqual(retention.presets, ['soc2', 'hipaa']);
    assert.deepEqual(retention.schedule, { cron: '0 3 * * *', timezone: 'Europe/Berlin' });
    assert.equal(retention.minimum?.text, '6y', 'the longest minimum of the presets');
    const [rule, fallback] = retention.rules;
    assert.equal(rule!.name, 'routine');
    assert.equal(rule!.purge, 'all-but-leaf');
    assert.equal(rule!.needsBody, true);
    assert.equal(rule!.match.type!('context.accessed'), true);
    assert.equal(rule!.match.type!('action.succeeded'), true);
    assert.equal(rule!.match.type!('action.failed'), false);
    assert.equal(rule!.match.tenant!('acme-eu'), true);
    assert.equal(fallback!.name, 'preset:hipaa', 'hipaa 6y outlasts soc2 1y');
    assert.equal(fallback!.keep.text, '6y');
  });

  it('each preset has its floor and basis', () => {
    assert.equal(PRESETS.hipaa.minimum?.text, '6y');
    assert.equal(PRESETS.soc2.minimum?.text, '1y');
    assert.equal(PRESETS['eu-ai-act'].minimum?.text, '6m');
    assert.equal(PRESETS.gdpr.minimum, null);
    assert.match(PRESETS['eu-ai-act'].basis, /Art\. 19/);
  });

  it('refuses a rule that keeps less than a preset requires (decisions included)', () => {
    refuses(
      'retention:\n  presets: [eu-ai-act]\n  rules:\n    - type: "context.*"\n      keep: 180d\n      purge: disclosures\n',
      /^auditrail\.yaml line 5: retention\.rules\[0\]\.keep is 180d, less than the 6m preset eu-ai-act requires \(EU AI Act Art\. 19/,
    );
    refuses(
      'retention:\n  preset: hipaa\n  rules:\n    - type: policy.decision\n      keep: 5y\n      purge: disclosures\n',
      /line 5: retention\.rules\[0\]\.keep is 5y, less than the 6y preset hipaa requires/,
    );
    assert.ok(
      parsePrivacyConfig(
        'retention:\n  presets: [eu-ai-act]\n  rules:\n    - keep: 183d\n      purge: disclosures\n',
      ).retention,
    );
  });

  it('gdpr requires a period for personal data', () => {
    refuses('retention:\n  presets: [gdpr]\n', /must give pii events a period for preset gdpr/);
    const ok = parsePrivacyConfig(
      'retention:\n  presets: [gdpr]\n  rules:\n    - classification: [pii, phi]\n      keep: 2y\n      purge: disclosures\n',
    );
    assert.equal(ok.retention?.rules.length, 1);
    assert.ok(
      parsePrivacyConfig('retention:\n  presets: [gdpr, soc2]\n').retention,
      'soc2 fallback covers all',
    );
  });

  it('names the line and field of each mistake', () => {
    refuses(
      'retention:\n  rules:\n    - keep: 6 years\n      purge: disclosures\n',
      /line 3: retention\.rules\[0\]\.keep must be a period like 6y/,
    );
    refuses(
      'retention:\n  rules:\n    - keep: 6y\n      purge: everything\n',
      /line 4: retention\.rules\[0\]\.purge must be one of disclosures, all-but-leaf/,
    );
    refuses(
      'retention:\n  rules:\n    - keep: 6y\n      purge: disclosures\n      kind: x\n',
      /line 5: retention\.rules\[0\]\.kind is not a known field/,
    );
    refuses(
      'retention:\n  presets: [iso27001]\n',
      /line 2: retention\.presets 'iso27001' is not one of hipaa, soc2, gdpr, eu-ai-act/,
    );
    refuses(
      'retention:\n  rules:\n    - type: "a**"\n      keep: 1y\n      purge: disclosures\n',
      /line 3: retention\.rules\[0\]\.type has an invalid glob/,
    );
    refuses(
      'retention:\n  rules:\n    - risk: severe\n      keep: 1y\n      purge: disclosures\n',
      /retention\.rules\[0\]\.risk 'severe' is not one of low/,
    );
    refuses('retention: {}\n', /retention needs presets or rules/);
    refuses(
      'retention:\n  presets: [soc2]\n  schedule: "every day"\n',
      /line 3: retention\.schedule is not a cron expression/,
    );
    refuses('retention:\n  rules: [\n', /auditrail\.yaml line \d+: not valid YAML/);
  });

  it('periods: calendar cut-offs, average lengths for comparisons', () => {
    assert.equal(parseDuration('0y'), null);
    assert.equal(parseDuration('6 y'), null);
    assert.equal(parseDuration('-1d'), null);
    const now = Date.parse('2026-03-31T12:00:00Z');
    assert.equal(new Date(cutoffOf(parseDuration('6y')!, now)).toISOString(), '2020-03-31T12:00:00.000Z');
    assert.equal(new Date(cutoffOf(parseDuration('180d')!, now)).toISOString(), '2025-10-02T12:00:00.000Z');
    assert.ok(durationDays(parseDuration('180d')!) < durationDays(parseDuration('6m')!));
    assert.ok(durationDays(parseDuration('183d')!) >= durationDays(parseDuration('6m')!));
  });
});

describe('sampling config', () => {
  it('reads 1-in-N rules for routine low-risk types', () => {
    const { sampling, retention } = parsePrivacyConfig(
      'sampling:\n  flush_seconds: 5\n  rules:\n    - type: context.accessed\n      risk: low\n      keep: 1/100\n    - type: "x.*"\n      risk: [low, medium]\n      keep: 1 in 10\n',
    );
    assert.equal(retention, null);
    assert.equal(sampling?.flushMs, 5000);
    assert.deepEqual(
      sampling?.rules.map((r) => r.every),
      [100, 10],
    );
  });

  it('refuses a rule that could drop a decision, approval, denial or failure', () => {
    for (const type of ['policy.decision', 'approval.*', 'action.*', '*', 'action.fail*'])
      refuses(
        `sampling:\n  rules:\n    - type: "${type}"\n      risk: low\n      keep: 1/10\n`,
        /line 3: sampling\.rules\[0\]\.type .* matches .*: decisions, approvals, denials, failures and the log's own records are never sampled/,
      );
    refuses(
      'sampling:\n  rules:\n    - type: context.accessed\n      risk: high\n      keep: 1/10\n',
      /risk 'high' is not one of low, medium/,
    );
    refuses('sampling:\n  rules:\n    - type: context.accessed\n      keep: 1/10\n', /needs risk/);
    refuses(
      'sampling:\n  rules:\n    - type: context.accessed\n      risk: low\n      keep: 50%\n',
      /keep must be '1\/N'/,
    );
    refuses(
      'sampling:\n  rules:\n    - type: context.accessed\n      risk: low\n      keep: 1/1\n',
      /keep must be '1\/N'/,
    );
  });
});
