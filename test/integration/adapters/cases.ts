/**
 * One adapter case file run against every framework (the way hono runs one router case file
 * against every router). A case is a scenario written once, against a small {@link Driver}: "the
 * model calls tool X with these arguments", "a person answers the paused call". Each framework's
 * test file implements the driver with that framework's own model fakes and approval flow, and
 * runs every case:
 *
 *     for (const c of cases) it(c.name, skipFor(framework, c), () => runCase(framework, c));
 *
 * Framework-specific behaviour (a chat client's approvals, LangGraph resumes, JSON-RPC edge cases)
 * stays in that framework's file.
 */
import assert from 'node:assert/strict';
import { REDACTED, type AuditTrail, type Governor, type RecordedEvent } from '../../../src/index.js';
import type { MemoryStore } from '../../../src/testing/index.js';
import { AGENT, HELPER, events, holds, lifecycle, policyFor, type SetupOptions } from './fixtures.js';

/** The tools every driver offers its model; the policy allows, denies or holds each. */
export type ToolName = 'get_weather' | 'delete_order' | 'refund' | 'export_report';

/** A secret in a call's arguments (a Stripe-style live key): it must never be stored. */
export const SECRET = 'sk_live_51Habcdefghijklmnopqrstuv';

/**
 * What each tool does, the same in every framework: it answers with text, except
 * `export_report`, which fails like an HTTP client does, quoting the URL and its key. Keep it
 * self-contained: the MCP test server runs its source (`toolBody.toString()`) in its own process.
 */
export function toolBody(name: ToolName, args: Record<string, unknown>): string {
  switch (name) {
    case 'get_weather':
      return `sunny in ${String(args['city'])}`;
    case 'delete_order':
      return 'deleted';
    case 'refund':
      return `refunded ${String(args['order'])}`;
    case 'export_report':
      throw new Error(
        `upstream 503 from https://reports.example/${String(args['report'])}?key=${String(args['api_key'])}`,
      );
  }
}

/** A person's verdict on a paused call. */
export interface Verdict {
  approved: boolean;
  approver: string;
  reason?: string;
}

/** The call finished: it ran, failed or was refused, and the model (or MCP client) was answered. */
export interface Done {
  kind: 'done';
  /**
   * What the model (the MCP client) read as this call's answer: the text the tool returned, or
   * the refusal or error text it was given instead (as JSON when the framework sends a structure).
   */
  shown: string;
  /** Whether the framework flagged that answer as an error; undefined when it has no such flag. */
  error?: boolean;
}

/** The call waits for a person; nothing has run. */
export interface Paused {
  kind: 'paused';
  /** The trail's approval request the call waits on. */
  requestId: string;
  /** Why the last answer was not accepted (the call is still paused). */
  refused?: string;
  /**
   * A person's verdict, given the way this framework takes one: its own approval flow (recording
   * the approver with the adapter's helper), or the trail's approvals (as the CLI and the
   * dashboard do) for frameworks that block while waiting.
   */
  answer(verdict: Verdict): Promise<Turn>;
  /**
   * The framework's own "approved", given without naming who approved (an app that skipped the
   * adapter's approval helper). Absent when approvals go only through the trail.
   */
  approveUnrecorded?: () => Promise<Turn>;
}

export type Turn = Done | Paused;

/** One framework, governed, with the four tools of {@link ToolName}, over a fresh in-memory trail. */
export interface Driver {
  readonly trail: AuditTrail;
  /** The trail's store: everything it keeps, for the secret scan. */
  readonly store: MemoryStore;
  /** A governor over the same trail and policy: its approvals are what the CLI would see. */
  readonly governor: Governor;
  /** The tools that actually ran, in order. */
  readonly ran: string[];
  /** One model turn in which the model calls `tool` with `args` (a fresh call id each time). */
  call(tool: ToolName, args: Record<string, unknown>): Promise<Turn>;
  close(): Promise<void>;
}

export type CaseId =
  | 'allow'
  | 'deny'
  | 'approve'
  | 'reject'
  | 'wrong-approver'
  | 'unrecorded-approval'
  | 'failure'
  | 'redaction'
  | 'shadow'
  | 'delegation';

export interface Framework {
  name: string;
  /** Prefix of the action types its tool calls become (`tool:`; the MCP proxy's `mcp:`). */
  prefix: 'tool:' | 'mcp:';
  start(options: SetupOptions): Promise<Driver>;
  /** The `outcome.result` the trail records for a tool that answered `text`. */
  recorded(text: string): unknown;
  /** How the framework words what the model reads, beyond what every framework says. */
  says: {
    denied: RegExp;
    rejected(requestId: string): RegExp;
    unrecorded?: RegExp;
    /** An approval by someone the rule does not name, as the model reads it (when it does). */
    wrongApprover?: RegExp;
  };
  /** Cases this framework cannot express, each with the reason printed as the skip message. */
  unsupported?: Partial<Record<CaseId, string>>;
}

export interface Case {
  id: CaseId;
  name: string;
  /** How to set up the trail for this case (default: the enforced test policy). */
  options?: (f: Framework) => SetupOptions;
  run(d: Driver, f: Framework): Promise<void>;
}

/**
 * Starts the framework for case `c`, runs it, checks that the log it left verifies, and closes
 * the trail whatever happens.
 */
export async function runCase(f: Framework, c: Case): Promise<void> {
  const d = await f.start({ policy: policyFor(f.prefix), ...c.options?.(f) });
  try {
    await c.run(d, f);
    const report = await d.trail.verify();
    assert.equal(report.ok, true, JSON.stringify(report.failures));
  } finally {
    await d.close();
  }
}

/** The `it()` options for case `c`: skipped, with its reason, when the framework cannot express it. */
export function skipFor(f: Framework, c: Case): { skip?: string } {
  const reason = f.unsupported?.[c.id];
  return reason !== undefined ? { skip: reason } : {};
}

function done(turn: Turn): Done {
  if (turn.kind === 'done') return turn;
  assert.fail(`expected the call to finish, it is paused on ${turn.requestId}`);
}

function paused(turn: Turn): Paused {
  if (turn.kind === 'paused') return turn;
  assert.fail(`expected the call to pause, it finished: ${turn.shown}`);
}

/** The events of one action, in log order. */
async function actionEvents(d: Driver, type: string): Promise<RecordedEvent[]> {
  return (await events(d.trail)).filter((e) => e.action?.type === type);
}

function only(log: RecordedEvent[], type: string): RecordedEvent {
  const found = log.filter((e) => e.type === type);
  assert.equal(found.length, 1, `one ${type}, got ${found.length}`);
  return found[0]!;
}

async function statusOf(d: Driver, requestId: string): Promise<string | undefined> {
  return (await d.governor.approvals.get(requestId))?.status;
}

// The approval helpers and the CLI say the same when the approver is not one the rule names.
const NOT_AN_APPROVER = /"mallory" may not decide apr_\S+; the rule names finance_lead/;

export const cases: Case[] = [
  {
    id: 'allow',
    name: "an allowed tool runs; intent, decision and outcome are recorded under the agent's name and session",
    async run(d, f) {
      const turn = done(await d.call('get_weather', { city: 'Paris' }));
      assert.deepEqual(d.ran, ['get_weather']);
      assert.equal(turn.shown, 'sunny in Paris');
      assert.notEqual(turn.error, true);
      const type = `${f.prefix}get_weather`;
      assert.deepEqual(await lifecycle(d.trail, type), [
        'action.intent',
        'policy.decision',
        'action.succeeded',
      ]);
      const log = await actionEvents(d, type);
      const [intent, decision, outcome] = log as [RecordedEvent, RecordedEvent, RecordedEvent];
      assert.deepEqual(intent.action?.params, { city: 'Paris' });
      assert.equal(intent.risk_level, 'low');
      assert.equal(decision.parent_event_id, intent.event_id);
      assert.equal(decision.policy?.decision, 'allow');
      assert.equal(decision.policy?.matched_rule, 'allow-weather');
      assert.equal(decision.policy?.mode, 'enforce');
      assert.equal(outcome.parent_event_id, intent.event_id);
      assert.equal(outcome.outcome?.status, 'success');
      assert.deepEqual(outcome.outcome?.result, f.recorded('sunny in Paris'));
      assert.deepEqual(outcome.dispatch, {
        job_id: intent.event_id,
        status: 'done',
        attempt: 1,
        max_attempts: 1,
      });
      for (const e of log) {
        assert.equal(e.actor.id, AGENT.id, e.type);
        assert.equal(e.actor.trust_tier, AGENT.trust_tier, e.type);
        assert.equal(e.session_id, 'sess-1', e.type);
      }
    },
  },
  {
    id: 'deny',
    name: 'a denied tool never runs; the model reads the rule and reason; the denial is recorded',
    async run(d, f) {
      const turn = done(await d.call('delete_order', { order: '1042' }));
      assert.deepEqual(d.ran, []);
      assert.match(turn.shown, /block-deletes: Deletes are never automatic/);
      assert.match(turn.shown, f.says.denied);
      assert.notEqual(turn.error, false);
      const type = `${f.prefix}delete_order`;
      assert.deepEqual(await lifecycle(d.trail, type), ['action.intent', 'policy.decision']);
      const decision = only(await actionEvents(d, type), 'policy.decision');
      assert.equal(decision.policy?.decision, 'deny');
      assert.equal(decision.policy?.matched_rule, 'block-deletes');
      assert.equal(decision.policy?.reason, 'Deletes are never automatic');
      assert.equal(decision.outcome?.status, 'denied');
      assert.equal(decision.risk_level, 'critical');
    },
  },
  {
    id: 'approve',
    name: 'require_approval pauses before the tool runs; approved, it runs once with the approver on record',
    async run(d, f) {
      const first = paused(await d.call('refund', { order: '1042', amount: 900 }));
      const id = first.requestId;
      const type = `${f.prefix}refund`;
      assert.deepEqual(d.ran, [], 'nothing runs before the decision');
      assert.equal(await statusOf(d, id), 'pending');
      assert.deepEqual(await lifecycle(d.trail, type), [
        'action.intent',
        'policy.decision',
        'approval.requested',
      ]);

      const turn = done(
        await first.answer({
          approved: true,
          approver: 'finance_lead',
          reason: 'verified with the customer',
        }),
      );
      assert.deepEqual(d.ran, ['refund']);
      assert.equal(turn.shown, 'refunded 1042');
      assert.notEqual(turn.error, true);
      // One intent and one decision: the resumed call is not decided again.
      assert.deepEqual(await lifecycle(d.trail, type), [
        'action.intent',
        'policy.decision',
        'approval.requested',
        'approval.granted',
        'action.succeeded',
      ]);
      const log = await actionEvents(d, type);
      const intent = only(log, 'action.intent');
      const decision = only(log, 'policy.decision');
      const requested = only(log, 'approval.requested');
      const granted = only(log, 'approval.granted');
      const succeeded = only(log, 'action.succeeded');
      assert.equal(decision.policy?.decision, 'require_approval');
      assert.equal(decision.policy?.matched_rule, 'approve-refunds');
      // The decision names the request it held the call for; the outcome names the grant that allowed it.
      assert.equal(decision.approval?.request_id, id);
      assert.equal(requested.approval?.request_id, id);
      assert.equal(requested.parent_event_id, intent.event_id);
      assert.equal(granted.approval?.request_id, id);
      assert.equal(granted.approval?.approver, 'finance_lead');
      assert.equal(granted.approval?.reason, 'verified with the customer');
      assert.equal(granted.actor.id, 'finance_lead');
      assert.equal(succeeded.parent_event_id, intent.event_id);
      assert.equal(succeeded.approval?.request_id, id);
      assert.equal(succeeded.approval?.approver, 'finance_lead');
      assert.deepEqual(succeeded.outcome?.result, f.recorded('refunded 1042'));
      assert.equal(await statusOf(d, id), 'used', 'the grant is used once');
      assert.equal((await d.trail.verify()).ok, true);
    },
  },
  {
    id: 'reject',
    name: 'require_approval rejected: the tool never runs; the model reads why; approval.denied names the approver',
    async run(d, f) {
      const first = paused(await d.call('refund', { order: '1042', amount: 900 }));
      const turn = done(
        await first.answer({ approved: false, approver: 'finance_lead', reason: 'duplicate request' }),
      );
      assert.deepEqual(d.ran, []);
      assert.match(turn.shown, /duplicate request/);
      assert.match(turn.shown, f.says.rejected(first.requestId));
      assert.notEqual(turn.error, false);
      const type = `${f.prefix}refund`;
      assert.deepEqual(await lifecycle(d.trail, type), [
        'action.intent',
        'policy.decision',
        'approval.requested',
        'approval.denied',
      ]);
      const denied = only(await actionEvents(d, type), 'approval.denied');
      assert.equal(denied.approval?.request_id, first.requestId);
      assert.equal(denied.approval?.approver, 'finance_lead');
      assert.equal(denied.approval?.reason, 'duplicate request');
      assert.equal(await statusOf(d, first.requestId), 'denied');
    },
  },
  {
    id: 'wrong-approver',
    name: 'an approval by someone the rule does not name is refused; nothing runs and the request stays pending',
    async run(d, f) {
      const first = paused(await d.call('refund', { order: '7', amount: 30 }));
      const after = await first.answer({ approved: true, approver: 'mallory' });
      const said = (after.kind === 'paused' ? after.refused : after.shown) ?? '';
      assert.match(said, NOT_AN_APPROVER);
      if (f.says.wrongApprover) assert.match(said, f.says.wrongApprover);
      assert.deepEqual(d.ran, []);
      const type = `${f.prefix}refund`;
      assert.equal((await actionEvents(d, type)).filter((e) => e.type === 'approval.granted').length, 0);
      assert.equal(await statusOf(d, first.requestId), 'pending');
      if (after.kind === 'done') {
        // The framework ended the call: the refused attempt is part of the action's story.
        const log = await actionEvents(d, type);
        const refused = only(log, 'action.cancelled');
        assert.equal(refused.outcome?.status, 'blocked');
        assert.equal(refused.approval?.request_id, first.requestId);
        assert.equal(refused.parent_event_id, only(log, 'action.intent').event_id);
        assert.match(refused.outcome?.error_message ?? '', NOT_AN_APPROVER);
        // The model reads the refusal the log records.
        assert.ok(after.shown.endsWith(refused.outcome?.error_message ?? '\u0000'), after.shown);
      } else {
        // Still paused: the approver the rule names can still decide.
        assert.equal(after.requestId, first.requestId);
        done(await after.answer({ approved: false, approver: 'finance_lead', reason: 'not this one' }));
        assert.deepEqual(d.ran, []);
        assert.equal(await statusOf(d, first.requestId), 'denied');
      }
    },
  },
  {
    id: 'unrecorded-approval',
    name: "the framework's own approval without a recorded approver does not run the tool; the refused attempt is recorded",
    async run(d, f) {
      const first = paused(await d.call('refund', { order: '9', amount: 1 }));
      assert.ok(first.approveUnrecorded, `${f.name} has its own approval flow`);
      const turn = done(await first.approveUnrecorded());
      const says = f.says.unrecorded ?? /$^/;
      assert.deepEqual(d.ran, []);
      assert.match(turn.shown, says);
      assert.notEqual(turn.error, false);
      // The refused attempt is in the log, naming the request and the intent it belongs to.
      const log = await actionEvents(d, `${f.prefix}refund`);
      const blocked = only(log, 'action.cancelled');
      assert.equal(blocked.outcome?.status, 'blocked');
      assert.match(blocked.outcome?.error_message ?? '', says);
      assert.equal(blocked.approval?.request_id, first.requestId);
      assert.equal(only(log, 'approval.requested').approval?.request_id, first.requestId);
      assert.equal(blocked.parent_event_id, only(log, 'action.intent').event_id);
      assert.equal(blocked.parent_event_id, only(log, 'approval.requested').parent_event_id);
      assert.ok(blocked.outcome?.error_message?.includes(first.requestId), blocked.outcome?.error_message);
      assert.equal(await statusOf(d, first.requestId), 'pending');
      assert.equal((await d.trail.verify()).ok, true);
    },
  },
  {
    id: 'failure',
    name: 'a tool that throws: the failure is recorded with its error, and the secret in it and in the params is not stored',
    async run(d, f) {
      const turn = done(await d.call('export_report', { report: 'q3', api_key: SECRET }));
      assert.deepEqual(d.ran, ['export_report']);
      assert.notEqual(turn.error, false);
      const type = `${f.prefix}export_report`;
      assert.deepEqual(await lifecycle(d.trail, type), ['action.intent', 'policy.decision', 'action.failed']);
      const log = await actionEvents(d, type);
      const intent = only(log, 'action.intent');
      const failed = only(log, 'action.failed');
      assert.deepEqual(intent.action?.params, { report: 'q3', api_key: REDACTED });
      assert.equal(failed.parent_event_id, intent.event_id);
      assert.equal(failed.outcome?.status, 'failure');
      assert.match(failed.outcome?.error_message ?? '', /upstream 503 from https:\/\/reports\.example\/q3/);
      assert.deepEqual(failed.dispatch, {
        job_id: intent.event_id,
        status: 'failed',
        attempt: 1,
        max_attempts: 1,
      });
      // The scan reaches what the store keeps (the error text is there), and the key is not.
      assert.equal(holds(d.store, 'reports.example/q3'), true);
      assert.equal(holds(d.store, SECRET), false, 'the secret is nowhere in the store');
      assert.equal((await d.trail.verify()).ok, true);
    },
  },
  {
    id: 'redaction',
    name: 'a secret in the parameters of a held call is redacted in the log and the approval request; approved, the call runs',
    async run(d, f) {
      const args = { order: '1042', amount: 900, api_key: SECRET };
      const first = paused(await d.call('refund', args));
      const request = (await d.governor.approvals.list('all')).find((r) => r.id === first.requestId);
      assert.deepEqual(request?.action.params, { order: '1042', amount: 900, api_key: REDACTED });
      // The grant is bound to the raw action: the approved call with the real key runs.
      done(await first.answer({ approved: true, approver: 'finance_lead' }));
      assert.deepEqual(d.ran, ['refund']);
      const intent = only(await actionEvents(d, `${f.prefix}refund`), 'action.intent');
      assert.deepEqual(intent.action?.params, { order: '1042', amount: 900, api_key: REDACTED });
      assert.equal(holds(d.store, 'refunded 1042'), true);
      assert.equal(holds(d.store, SECRET), false, 'the secret is nowhere in the store');
      assert.equal((await d.trail.verify()).ok, true);
    },
  },
  {
    id: 'shadow',
    name: 'in shadow mode every decision is recorded and none enforced: denied and held tools run',
    options: (f) => ({ policy: policyFor(f.prefix, 'shadow') }),
    async run(d, f) {
      assert.equal(done(await d.call('delete_order', { order: '1' })).shown, 'deleted');
      assert.equal(done(await d.call('refund', { order: '2', amount: 5 })).shown, 'refunded 2');
      assert.deepEqual(d.ran, ['delete_order', 'refund']);
      for (const [tool, verdict] of [
        ['delete_order', 'deny'],
        ['refund', 'require_approval'],
      ] as const) {
        const type = `${f.prefix}${tool}`;
        assert.deepEqual(await lifecycle(d.trail, type), [
          'action.intent',
          'policy.decision',
          'action.succeeded',
        ]);
        const decision = only(await actionEvents(d, type), 'policy.decision');
        assert.equal(decision.policy?.decision, verdict);
        assert.equal(decision.policy?.mode, 'shadow');
        assert.equal(decision.outcome, undefined, 'nothing was refused');
        assert.equal(decision.approval, undefined, 'nobody was asked');
      }
      assert.deepEqual(await d.governor.approvals.list('all'), []);
    },
  },
  {
    id: 'delegation',
    name: 'a sub-agent governed through the framework: each event names it and the delegation chain',
    options: (f) => ({
      delegate: { actor: HELPER, permissions: [`${f.prefix}get_weather`] },
    }),
    async run(d, f) {
      done(await d.call('get_weather', { city: 'Oslo' }));
      assert.deepEqual(d.ran, ['get_weather']);
      const all = await events(d.trail);
      const started = only(all, 'delegation.started');
      assert.equal(started.actor.id, AGENT.id);
      assert.equal(started.action?.target, HELPER.id);
      const type = `${f.prefix}get_weather`;
      const log = all.filter((e) => e.action?.type === type);
      assert.equal(log.length, 3);
      for (const e of log) {
        assert.equal(e.actor.id, HELPER.id, e.type);
        assert.equal(e.delegation?.depth, 1, e.type);
        assert.equal(e.delegation?.root_agent, AGENT.id, e.type);
        assert.deepEqual(
          e.delegation?.chain?.map((l) => [l.agent_id, l.permissions_granted]),
          [[AGENT.id, [type]]],
          e.type,
        );
      }
    },
  },
];

/**
 * For frameworks whose tool call blocks while the trail waits for a person (LangChain core, the
 * MCP proxy): the turn is `running` once it settles, or paused as soon as a new approval request is
 * pending. Answering decides that request through the trail's approvals, as `auditrail approvals
 * approve` and the dashboard do. `running` must not reject: a driver turns failures into a Done.
 */
export async function blockingTurn(
  governor: Governor,
  running: Promise<Done>,
  known: ReadonlySet<string> = new Set(),
): Promise<Turn> {
  let settled: Done | undefined;
  void running.then((turn) => (settled = turn));
  for (;;) {
    if (settled) return settled;
    const pending = (await governor.approvals.list('pending')).find((r) => !known.has(r.id));
    if (pending) {
      const id = pending.id;
      const pausedTurn: Paused = {
        kind: 'paused',
        requestId: id,
        answer: async (v) => {
          const by = { as: v.approver, ...(v.reason !== undefined ? { reason: v.reason } : {}) };
          try {
            if (v.approved) await governor.approvals.approve(id, by);
            else await governor.approvals.deny(id, by);
          } catch (error) {
            return { ...pausedTurn, refused: (error as Error).message };
          }
          return blockingTurn(governor, running, new Set([...known, id]));
        },
      };
      return pausedTurn;
    }
    await Promise.race([running, new Promise((r) => setTimeout(r, 5))]);
  }
}
