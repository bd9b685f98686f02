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
import { parsePolicy } from '../../../src/index.js';
import {
  cases,
  runCase,
  SECRET,
  skipFor,
  toolBody,
  type Driver,
  type Framework,
  type Turn,
} from './cases.js';
import { POLICY, events, setup, type Setup, type SetupOptions } from './fixtures.js';

// One schema for every tool: each argument the tests send.
const args = z.object({
  city: z.string().optional(),
  order: z.string().optional(),
  amount: z.number().optional(),
  report: z.string().optional(),
  api_key: z.string().optional(),
});

/** The four tools of the shared cases (see cases.ts), recording in `ran` what ran. */
function makeTools(ran: string[]) {
  return (['get_weather', 'delete_order', 'refund', 'export_report'] as const).map((name) =>
    tool(
      (input) => {
        ran.push(name);
        return Promise.resolve(toolBody(name, input));
      },
      { name, description: `The ${name} tool`, schema: args },
    ),
  );
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
  args: { order: '1042', amount: 900, api_key: SECRET },
};

/**
 * The shared cases' driver: each call is one `createAgent` run on its own thread, whose model
 * (LangChain's fake) calls the tool, then answers "done"; a held call pauses with the
 * middleware's interrupt and is answered with `Command({ resume })`, as LangChain documents.
 */
async function start(options: SetupOptions): Promise<Driver> {
  const s = await setup(options);
  const ran: string[] = [];
  const middleware = auditrailMiddleware({ governor: s.governor });
  const saver = new MemorySaver();
  let calls = 0;
  return {
    trail: s.trail,
    store: s.store,
    governor: s.governor,
    ran,
    close: () => s.close(),
    async call(name, input) {
      const thread = `t-${++calls}`;
      const agent = agentCalling(middleware, saver, ran, { name, args: input, id: `call-${calls}` });
      const settle = async (running: Promise<AgentResult>): Promise<Turn> => {
        let result: AgentResult;
        try {
          result = await running;
        } catch (error) {
          // A tool's own failure leaves the graph (LangChain's default): the app sees the error.
          return { kind: 'done', shown: String(error), error: true };
        }
        if (result.__interrupt__ !== undefined) {
          assert.equal(result.__interrupt__.length, 1, 'one interrupt for the one call');
          const value = pausedOn(result);
          return {
            kind: 'paused',
            requestId: value.request_id,
            answer: (v) =>
              settle(
                agent.resume(thread, {
                  decision: v.approved ? 'approve' : 'reject',
                  approver: v.approver,
                  ...(v.reason !== undefined ? { reason: v.reason } : {}),
                  request_id: value.request_id,
                }),
              ),
            // A resume that says "approved" the way a UI might, without the approver.
            approveUnrecorded: () => settle(agent.resume(thread, { approved: true })),
          };
        }
        assert.equal(result.messages.at(-1)?.text, 'done', 'the model read the reply and answered');
        const reply = toolReply(result);
        return { kind: 'done', shown: reply.text, error: reply.status === 'error' };
      };
      return settle(agent.start(thread));
    },
  };
}

const middleware: Framework = {
  name: 'LangChain middleware',
  prefix: 'tool:',
  start,
  recorded: (text) => ({ content: text, status: 'success' }),
  says: {
    denied: /^Not run: action denied by block-deletes: Deletes are never automatic$/,
    rejected: (id) => new RegExp(`^Not run: approval ${id} rejected by finance_lead: duplicate request$`),
    unrecorded: /is not an approval decision/,
    wrongApprover: /^Not run: the approval of apr_\S+ by "mallory" was not recorded: /,
  },
};

describe('LangChain v1 middleware (createAgent, fakeModel, MemorySaver): shared cases', () => {
  for (const c of cases) it(c.name, skipFor(middleware, c), () => runCase(middleware, c));
});

describe('LangChain v1 middleware (createAgent, fakeModel, MemorySaver)', () => {
  let s: Setup;
  afterEach(() => s.close());

  function governed(extra: Partial<AuditrailMiddlewareOptions> = {}) {
    return auditrailMiddleware({ governor: s.governor, ...extra });
  }

  it('the interrupt names the call, the action, the approvers and the digest; its params are redacted', async () => {
    s = await setup();
    const ran: string[] = [];
    const agent = agentCalling(governed(), new MemorySaver(), ran, REFUND);
    const paused = pausedOn(await agent.start('t-approve'));
    assert.deepEqual(ran, [], 'nothing runs before the decision');
    assert.equal(paused.kind, 'auditrail.approval');
    assert.deepEqual(paused.tool_call, { name: 'refund', id: 'call-1' });
    assert.deepEqual(paused.action, { type: 'tool:refund' });
    assert.deepEqual(paused.approvers, ['finance_lead']);
    assert.equal(paused.matched_rule, 'approve-refunds');
    assert.match(paused.request_digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(paused.request_digest, (await s.governor.approvals.get(paused.request_id))?.requestDigest);
    // The checkpointer stores the interrupt: the secret in the arguments is redacted there.
    assert.deepEqual(paused.params, { order: '1042', amount: 900, api_key: REDACTED });
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
