/**
 * Automated responses (docs/detection.md): the CPU time of one `Governor.decide` (intent and
 * decision recorded) without responses consulted, with them consulted and none active, and with
 * 100 active responses in the log (on other agents). Before every decision the Governor checks
 * the log's response version (one meta lookup) and reads the response events by type only when it
 * moved (or once a second); the agent's responses are one map lookup.
 */
import { join } from 'node:path';
import { applyResponse, openAuditTrail, responseBook, responseId, type AuditTrail } from '../../src/index.js';
import { parsePolicy } from '../../src/policy/index.js';
import { Governor } from '../../src/sdk/governance/governor.js';
import { addBenchmark, below } from '../suite.js';

const POLICY = parsePolicy(`policy_id: bench
version: 1
default: deny
rules:
  - id: allow-noop
    match: { action: "bench:noop" }
    effect: allow
`);

/** CPU µs per decide, over `n` decisions. */
async function cpuPerDecide(gov: Governor, n: number): Promise<number> {
  for (let i = 0; i < 20; i++) await gov.decide({ type: 'bench:noop', params: { i } });
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await gov.decide({ type: 'bench:noop', target: `item/${i}` });
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / n;
}

async function applyMany(trail: AuditTrail, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await applyResponse(trail, {
      id: responseId(`an-${i}`, 0, 'quarantine'),
      kind: 'quarantine',
      agent_id: `other-agent-${i}`,
      anomaly_id: `an-${i}`,
      detector: 'bench',
      rule: 'responses[0]',
      params: {},
    });
  }
}

/** Median CPU µs per decide of each governor, over `rounds` interleaved blocks of `block` decisions. */
async function interleaved(govs: Governor[], rounds: number, block: number): Promise<number[]> {
  const samples = govs.map(() => [] as number[]);
  for (const g of govs) await cpuPerDecide(g, 20);
  for (let r = 0; r < rounds; r++)
    for (const [i, g] of govs.entries()) samples[i]!.push(await cpuPerDecide(g, block));
  return samples.map((s) => s.sort((a, b) => a - b)[Math.floor(s.length / 2)]!);
}

addBenchmark({
  name: 'responses',
  async run(ctx) {
    const actor = { type: 'agent' as const, id: 'agent-0', trust_tier: 'trusted' };
    // Two SQLite files, one with no response and one with 100; blocks interleaved so the drift of
    // a loaded machine falls on all three alike (the memory store has no type index: not used).
    const open = (name: string): Promise<AuditTrail> =>
      openAuditTrail({ tenant: 'bench', db: join(ctx.tmpDir, name, 'audit.db'), checkpointIntervalMs: 0 });
    const empty = await open('responses-0');
    const full = await open('responses-100');
    await applyMany(full, 100);
    const [offUs, zeroUs, hundredUs] = await interleaved(
      [
        new Governor({ trail: empty, policy: POLICY, actor, responses: false }),
        new Governor({ trail: empty, policy: POLICY, actor }),
        new Governor({ trail: full, policy: POLICY, actor }),
      ],
      ctx.scale(9, 31),
      ctx.scale(100, 200),
    );
    // What the Governor adds to a decision, alone: refresh the book (nothing new) and look the
    // agent up, interleaved between the log without responses and the one with 100.
    const lookup = async (trail: AuditTrail, n: number): Promise<number> => {
      const book = responseBook(trail);
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) {
        await book.refresh();
        book.active(actor.id);
      }
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / n;
    };
    const look0: number[] = [];
    const look100: number[] = [];
    for (let r = 0; r < ctx.scale(9, 31); r++) {
      look0.push(await lookup(empty, 1000));
      look100.push(await lookup(full, 1000));
    }
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    await empty.close();
    await full.close();

    const note = 'median of interleaved blocks; SQLite file, intent + decision durable';
    return [
      {
        name: 'responses.decide_cpu_off',
        value: offUs!,
        unit: 'µs/decision',
        note: `responses: false; ${note}`,
      },
      {
        name: 'responses.decide_cpu_0',
        value: zeroUs!,
        unit: 'µs/decision',
        note: `0 active responses; ${note}`,
      },
      {
        name: 'responses.decide_cpu_100',
        value: hundredUs!,
        unit: 'µs/decision',
        note: `100 active responses on other agents; ${note}`,
      },
      {
        name: 'responses.lookup_cpu_0',
        value: median(look0),
        unit: 'µs/decision',
        note: 'book refresh (response version unchanged: one meta lookup) + agent lookup, 0 responses',
      },
      {
        name: 'responses.lookup_cpu_100',
        value: median(look100),
        unit: 'µs/decision',
        note: 'the same with 100 active responses',
      },
      {
        name: 'responses.lookup_overhead_100',
        value: median(look100) - median(look0),
        unit: 'µs/decision',
        target: below(10),
        note: 'CPU added by 100 active responses over 0',
      },
    ];
  },
});
