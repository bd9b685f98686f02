import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Command, MemorySaver } from '@langchain/langgraph';
import { AIMessage, createAgent, fakeModel, tool, type BaseMessage } from 'langchain';
import { z } from 'zod';
import { REDACTED, type RecordedEvent } from '../../../src/index.js';
import {
  auditrailMiddleware,
  isApprovalInterrupt,
  type ApprovalInterrupt,
  type AuditrailMiddlewareOptions,
} from '../../../src/integrations/langchain-middleware.js';
import { POLICY, events, lifecycle, setup, type Setup } from './fixtures.js';
import { parsePolicy } from '../../../src/index.js';

function makeTools(ran: string[]) {
  const order = z.object({
    order: z.string(),
    amount: z.number().optional(),
    api_key: z.string().optional(),
  });
  return [
    tool(
      ({ city }) => {
        ran.push('get_weather');
        return Promise.resolve(`sunny in ${city}`);
      },
      { name: 'get_weather', description: 'Weather for a city', schema: z.object({ city: z.string() }) },
    ),
    tool(
      () => {
        ran.push('delete_order');
        return Promise.resolve('deleted');
      },
      { name: 'delete_order', description: 'Delete an order', schema: order },
    ),
    tool(
      ({ order: id }) => {
        ran.push('refund');
        return Promise.resolve(`refunded ${id}`);
      },
      { name: 'refund', description: 'Refund an order', schema: order },
    ),
  ];
}

interface AgentResult {
  messages: BaseMessage[];
  __interrupt__?: { id?: string; value: unknown }[];
}

/** An agent whose model (LangChain's own fake) calls one tool, then answers "done". */
function agentCalling(
  middleware: ReturnType<typeof auditrailMiddleware>,
  checkpointer: MemorySaver,
  ran: string[],
  call: { name: string; args: Record<string, unknown>; id?: string },
) {
  const model = fakeModel()
    .respondWithTools([{ id: 'call-1', ...call }])
    .respond(new AIMessage('done'));
  const agent = createAgent({ model, tools: makeTools(ran), middleware: [middleware], checkpointer });
  return {
    start: async (thread: string) =>
      (await agent.invoke(
        { messages: [{ role: 'user', content: 'please' }] },
        { configurable: { thread_id: thread } },
      )) as AgentResult,
    resume: async (thread: string, resume: unknown) =>
      (await agent.invoke(new Command({ resume }), { configurable: { thread_id: thread } })) as AgentResult,
  };
}

function pausedOn(result: AgentResult): ApprovalInterrupt {
  const value = result.__interrupt__?.[0]?.value;
  assert.ok(
    isApprovalInterrupt(value),
    `expected an approval interrupt, got ${JSON.stringify(result.__interrupt__)}`,
  );
  return value;
}

function toolReply(result: AgentResult): BaseMessage & { status?: string } {
  const reply = result.messages.find((m) => m.getType() === 'tool');
  assert.ok(reply, 'the tool call was answered');
  return reply;
}

function only(log: RecordedEvent[], type: string): RecordedEvent {
  const found = log.filter((e) => e.type === type);
  assert.equal(found.length, 1, `one ${type}`);
  return found[0]!;
}

const REFUND = {
  name: 'refund',
  args: { order: '1042', amount: 900, api_key: 'sk_live_51Habcdefghijklmnopqrstuv' },
};

describe('LangChain v1 middleware (createAgent, fakeModel, MemorySaver)', () => {
  let s: Setup;
  afterEach(() => s.close());

  function governed(extra: Partial<AuditrailMiddlewareOptions> = {}) {
    return auditrailMiddleware({ governor: s.governor, ...extra });
  }

  it('runs an allowed tool and records intent, decision and outcome', async () => {
    s = await setup();
    const ran: string[] = [];
    const agent = agentCalling(governed(), new MemorySaver(), ran, {
      name: 'get_weather',
      args: { city: 'Paris' },
    });
    const result = await agent.start('t-allow');
    assert.equal(result.__interrupt__, undefined);
    assert.deepEqual(ran, ['get_weather']);
    assert.equal(toolReply(result).text, 'sunny in Paris');
    assert.equal(result.messages.at(-1)?.text, 'done');
    assert.deepEqual(await lifecycle(s.trail, 'tool:get_weather'), [
      'action.intent',
      'policy.decision',
      'action.succeeded',
    ]);
    const outcome = only(await events(s.trail), 'action.succeeded');
    assert.deepEqual(outcome.outcome?.result, { content: 'sunny in Paris', status: 'success' });
  });

  it('does not run a denied tool; the model reads the rule and reason; the denial is recorded', async () => {
    s = await setup();
    const ran: string[] = [];
    const agent = agentCalling(governed(), new MemorySaver(), ran, {
      name: 'delete_order',
      args: { order: '1' },
    });
    const result = await agent.start('t-deny');
    assert.deepEqual(ran, []);
    const reply = toolReply(result);
    assert.equal(reply.status, 'error');
    assert.match(reply.text, /^Not run: action denied by block-deletes: Deletes are never automatic/);
    assert.deepEqual(await lifecycle(s.trail, 'tool:delete_order'), ['action.intent', 'policy.decision']);
    const decision = only(await events(s.trail), 'policy.decision');
    assert.equal(decision.policy?.decision, 'deny');
    assert.equal(decision.outcome?.status, 'denied');
  });

  it('require_approval interrupts; resumed with an approval it runs once, with the approver on record', async () => {
    s = await setup();
    const ran: string[] = [];
    const agent = agentCalling(governed(), new MemorySaver(), ran, REFUND);
    const first = await agent.start('t-approve');
    const paused = pausedOn(first);
    assert.deepEqual(ran, [], 'nothing runs before the decision');
    assert.equal(paused.tool_call.name, 'refund');
    assert.deepEqual(paused.action, { type: 'tool:refund' });
    assert.deepEqual(paused.approvers, ['finance_lead']);
    assert.match(paused.request_digest, /^sha256:[0-9a-f]{64}$/);
    // The checkpointer stores the interrupt: the secret in the arguments is redacted there.
    assert.deepEqual(paused.params, { order: '1042', amount: 900, api_key: REDACTED });
    assert.equal((await s.governor.approvals.get(paused.request_id))?.status, 'pending');
    assert.deepEqual(await lifecycle(s.trail, 'tool:refund'), [
      'action.intent',
      'policy.decision',
      'approval.requested',
    ]);

    const done = await agent.resume('t-approve', {
      decision: 'approve',
      approver: 'finance_lead',
      reason: 'receipt checked',
      request_id: paused.request_id,
    });
    assert.equal(done.__interrupt__, undefined);
    assert.deepEqual(ran, ['refund']);
    assert.equal(toolReply(done).text, 'refunded 1042');
    assert.equal(done.messages.at(-1)?.text, 'done');
    // One intent and one decision: the resumed call is not decided again.
    assert.deepEqual(await lifecycle(s.trail, 'tool:refund'), [
      'action.intent',
      'policy.decision',
      'approval.requested',
      'approval.granted',
      'action.succeeded',
    ]);
    const log = await events(s.trail);
    const intent = only(log, 'action.intent');
    assert.equal(only(log, 'policy.decision').policy?.decision, 'require_approval');
    const requested = only(log, 'approval.requested');
    const granted = only(log, 'approval.granted');
    assert.equal(requested.approval?.request_id, paused.request_id);
    assert.equal(granted.approval?.request_id, paused.request_id);
    assert.equal(granted.approval?.approver, 'finance_lead');
    assert.equal(granted.approval?.reason, 'receipt checked');
    assert.equal(granted.actor.id, 'finance_lead');
    assert.equal(requested.parent_event_id, intent.event_id);
    assert.equal(only(log, 'action.succeeded').parent_event_id, intent.event_id);
    // The decision names the request it held the call for; the outcome names the grant that allowed it.
    assert.equal(only(log, 'policy.decision').approval?.request_id, paused.request_id);
    assert.equal(only(log, 'action.succeeded').approval?.request_id, paused.request_id);
    assert.equal(only(log, 'action.succeeded').approval?.approver, 'finance_lead');
    assert.equal(
      (await s.governor.approvals.get(paused.request_id))?.status,
      'used',
      'the grant is used once',
    );
    assert.equal((await s.trail.verify()).ok, true);
  });

  it('resumed with a rejection, the tool does not run and approval.denied names the approver', async () => {
    s = await setup();
    const ran: string[] = [];
    const agent = agentCalling(governed(), new MemorySaver(), ran, REFUND);
    const paused = pausedOn(await agent.start('t-reject'));
    const done = await agent.resume('t-reject', {
      decision: 'reject',
      approver: 'finance_lead',
      reason: 'duplicate',
      request_id: paused.request_id,
    });
    assert.deepEqual(ran, []);
    const reply = toolReply(done);
    assert.equal(reply.status, 'error');
    assert.equal(reply.text, `Not run: approval ${paused.request_id} rejected by finance_lead: duplicate`);
    assert.deepEqual(await lifecycle(s.trail, 'tool:refund'), [
      'action.intent',
      'policy.decision',
      'approval.requested',
      'approval.denied',
    ]);
    const denied = only(await events(s.trail), 'approval.denied');
    assert.equal(denied.approval?.approver, 'finance_lead');
    assert.equal(denied.approval?.reason, 'duplicate');
    assert.equal((await s.governor.approvals.get(paused.request_id))?.status, 'denied');
  });

  it('two calls paused in one turn are answered by interrupt id: one approved runs, one rejected does not', async () => {
    s = await setup();
    const ran: string[] = [];
    const model = fakeModel()
      .respondWithTools([
        { id: 'call-1', name: 'refund', args: { order: '1', amount: 200 } },
        { id: 'call-2', name: 'refund', args: { order: '2', amount: 300 } },
      ])
      .respond(new AIMessage('done'));
    const agent = createAgent({
      model,
      tools: makeTools(ran),
      middleware: [governed()],
      checkpointer: new MemorySaver(),
    });
    const config = { configurable: { thread_id: 't-two' } };
    const first = (await agent.invoke(
      { messages: [{ role: 'user', content: 'refund both' }] },
      config,
    )) as AgentResult;
    const interrupts = first.__interrupt__ ?? [];
    assert.equal(interrupts.length, 2);
    const answers: Record<string, unknown> = {};
    for (const { id, value } of interrupts) {
      assert.ok(id !== undefined && isApprovalInterrupt(value));
      const approve = (value.params as { order: string }).order === '1';
      answers[id] = {
        decision: approve ? 'approve' : 'reject',
        approver: 'finance_lead',
        request_id: value.request_id,
      };
    }
    const done = (await agent.invoke(new Command({ resume: answers }), config)) as AgentResult;
    assert.deepEqual(ran, ['refund']);
    const replies = done.messages.filter((m) => m.getType() === 'tool').map((m) => m.text);
    assert.equal(replies.length, 2);
    assert.ok(replies.includes('refunded 1'));
    assert.ok(replies.some((t) => /^Not run: approval apr_\S+ rejected by finance_lead$/.test(t)));
    const log = await events(s.trail);
    assert.equal(log.filter((e) => e.type === 'action.intent').length, 2, 'each call decided once');
    assert.equal(log.filter((e) => e.type === 'approval.granted').length, 1);
    assert.equal(log.filter((e) => e.type === 'approval.denied').length, 1);
    assert.equal(log.filter((e) => e.type === 'action.succeeded').length, 1);
  });

  it('an approval by someone the rule does not name is refused, and the refused attempt is recorded', async () => {
    s = await setup();
    const ran: string[] = [];
    const agent = agentCalling(governed(), new MemorySaver(), ran, REFUND);
    const paused = pausedOn(await agent.start('t-intern'));
    const done = await agent.resume('t-intern', { decision: 'approve', approver: 'intern' });
    assert.deepEqual(ran, []);
    assert.match(
      toolReply(done).text,
      /^Not run: the approval of apr_\S+ by "intern" was not recorded: .*finance_lead/,
    );
    const log = await events(s.trail);
    assert.equal(log.filter((e) => e.type === 'approval.granted').length, 0);
    const refused = only(log, 'action.cancelled');
    assert.equal(refused.outcome?.status, 'blocked');
    assert.equal(refused.approval?.request_id, paused.request_id);
    assert.equal(refused.parent_event_id, only(log, 'action.intent').event_id);
    assert.match(
      refused.outcome?.error_message ?? '',
      /^the approval of apr_\S+ by "intern" was not recorded/,
    );
    assert.equal((await s.governor.approvals.get(paused.request_id))?.status, 'pending');
  });

  it('a resume claiming the approval of a different request is refused and recorded; neither request is granted', async () => {
    s = await setup();
    const ran: string[] = [];
    const mw = governed();
    const saver = new MemorySaver();
    const a = agentCalling(mw, saver, ran, REFUND);
    const b = agentCalling(mw, saver, ran, { name: 'refund', args: { order: '2000', amount: 5000 } });
    const pausedA = pausedOn(await a.start('t-a'));
    const pausedB = pausedOn(await b.start('t-b'));
    assert.notEqual(pausedA.request_id, pausedB.request_id);
    const done = await a.resume('t-a', {
      decision: 'approve',
      approver: 'finance_lead',
      request_id: pausedB.request_id,
    });
    assert.deepEqual(ran, []);
    assert.equal(
      toolReply(done).text,
      `Not run: the resume answers approval ${pausedB.request_id}, but this call waits on ${pausedA.request_id}`,
    );
    const log = await events(s.trail);
    assert.equal(log.filter((e) => e.type === 'approval.granted').length, 0);
    const refused = only(log, 'action.cancelled');
    assert.equal(refused.outcome?.status, 'blocked');
    assert.equal(refused.approval?.request_id, pausedA.request_id);
    assert.equal(
      refused.outcome?.error_message,
      `the resume answers approval ${pausedB.request_id}, but this call waits on ${pausedA.request_id}`,
    );
    assert.equal((await s.governor.approvals.get(pausedA.request_id))?.status, 'pending');
    assert.equal((await s.governor.approvals.get(pausedB.request_id))?.status, 'pending');
    assert.equal((await s.trail.verify()).ok, true);
  });

  it('a resume value that is not an approval decision is refused and recorded', async () => {
    s = await setup();
    const ran: string[] = [];
    const agent = agentCalling(governed(), new MemorySaver(), ran, REFUND);
    const paused = pausedOn(await agent.start('t-bad'));
    const done = await agent.resume('t-bad', { approved: true });
    assert.deepEqual(ran, []);
    assert.match(toolReply(done).text, /is not an approval decision/);
    const refused = only(await events(s.trail), 'action.cancelled');
    assert.equal(refused.approval?.request_id, paused.request_id);
    assert.equal((await s.governor.approvals.get(paused.request_id))?.status, 'pending');
  });

  it('after a restart (a new middleware, the same checkpointer), the resume answers the request it was shown', async () => {
    s = await setup();
    const ran: string[] = [];
    const saver = new MemorySaver();
    const paused = pausedOn(await agentCalling(governed(), saver, ran, REFUND).start('t-restart'));
    const restarted = agentCalling(governed(), saver, ran, REFUND);
    const done = await restarted.resume('t-restart', {
      decision: 'approve',
      approver: 'finance_lead',
      request_id: paused.request_id,
    });
    assert.deepEqual(ran, ['refund']);
    assert.equal(toolReply(done).text, 'refunded 1042');
    const log = await events(s.trail);
    assert.equal(only(log, 'approval.granted').approval?.request_id, paused.request_id);
    assert.equal(
      only(log, 'action.succeeded').approval?.request_id,
      paused.request_id,
      'the grant shown is the one used',
    );
    assert.equal((await s.governor.approvals.get(paused.request_id))?.status, 'used');
    assert.equal((await s.trail.verify()).ok, true);
  });

  it('builds its own governor from trail and policy, and maps calls with toolToAction', async () => {
    s = await setup();
    const ran: string[] = [];
    const mw = auditrailMiddleware({
      trail: s.trail,
      policy: parsePolicy(POLICY),
      actor: { type: 'agent', id: 'weather-bot' },
      session_id: 'sess-own',
      // Any tool call is the weather lookup the policy allows.
      toolToAction: (call) => ({ type: 'tool:get_weather', target: `tool/${call.name}`, params: call.args }),
    });
    const agent = agentCalling(mw, new MemorySaver(), ran, { name: 'delete_order', args: { order: '9' } });
    const result = await agent.start('t-own');
    assert.deepEqual(ran, ['delete_order']);
    assert.equal(toolReply(result).text, 'deleted');
    const outcome = only(await events(s.trail), 'action.succeeded');
    assert.equal(outcome.action?.target, 'tool/delete_order');
    assert.equal(outcome.actor.id, 'weather-bot');
    assert.equal(outcome.session_id, 'sess-own');
  });
});
