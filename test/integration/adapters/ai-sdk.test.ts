import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { generateText, jsonSchema, stepCountIs, tool, type ModelMessage } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import {
  governAiSdkTools,
  recordAiSdkApprovalResponses,
  resolveAiSdkApproval,
} from '../../../src/integrations/ai-sdk.js';
import { events, lifecycle, setup, type Setup } from './fixtures.js';

type GenerateResult = Awaited<ReturnType<MockLanguageModelV3['doGenerate']>>;
type Prompt = Parameters<MockLanguageModelV3['doGenerate']>[0]['prompt'];

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};

function callTool(toolCallId: string, toolName: string, input: unknown): GenerateResult {
  return {
    content: [{ type: 'tool-call', toolCallId, toolName, input: JSON.stringify(input) }],
    finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
    usage,
    warnings: [],
  };
}

function say(text: string): GenerateResult {
  return {
    content: [{ type: 'text', text }],
    finishReason: { unified: 'stop', raw: 'stop' },
    usage,
    warnings: [],
  };
}

/** A scripted model: one response per call; records every prompt it was sent. */
function scripted(...responses: GenerateResult[]): { model: MockLanguageModelV3; prompts: Prompt[] } {
  const prompts: Prompt[] = [];
  const model = new MockLanguageModelV3({
    doGenerate: (options) => {
      prompts.push(options.prompt);
      const next = responses.shift();
      if (!next) throw new Error('the script ran out');
      return Promise.resolve(next);
    },
  });
  return { model, prompts };
}

/** The tool results the model was shown in a prompt, as text. */
function toolResultsSeen(prompt: Prompt | undefined): string {
  return JSON.stringify((prompt ?? []).filter((m) => m.role === 'tool'));
}

function makeTools(ran: string[]) {
  const input = jsonSchema<{ order?: string; city?: string; amount?: number }>({
    type: 'object',
    properties: { order: { type: 'string' }, city: { type: 'string' }, amount: { type: 'number' } },
  });
  return {
    get_weather: tool({
      description: 'Weather for a city',
      inputSchema: input,
      execute: ({ city }) => {
        ran.push('get_weather');
        return Promise.resolve({ city, forecast: 'sunny' });
      },
    }),
    delete_order: tool({
      description: 'Delete an order',
      inputSchema: input,
      execute: () => {
        ran.push('delete_order');
        return Promise.resolve({ deleted: true });
      },
    }),
    refund: tool({
      description: 'Refund an order',
      inputSchema: input,
      execute: ({ order, amount }) => {
        ran.push('refund');
        return Promise.resolve({ refunded: order, amount });
      },
    }),
  };
}

describe('AI SDK adapter (ai v6, MockLanguageModelV3)', () => {
  let s: Setup;
  afterEach(() => s.close());

  it('runs an allowed tool and records intent, decision, dispatch and outcome', async () => {
    s = await setup();
    const ran: string[] = [];
    const { model, prompts } = scripted(
      callTool('c1', 'get_weather', { city: 'Paris' }),
      say('Sunny in Paris.'),
    );
    const result = await generateText({
      model,
      tools: governAiSdkTools(s.governor, makeTools(ran)),
      prompt: 'Weather in Paris?',
      stopWhen: stepCountIs(3),
    });
    assert.equal(result.text, 'Sunny in Paris.');
    assert.deepEqual(ran, ['get_weather']);
    assert.match(toolResultsSeen(prompts[1]), /sunny/);
    assert.deepEqual(await lifecycle(s.trail, 'tool:get_weather'), [
      'action.intent',
      'policy.decision',
      'action.succeeded',
    ]);
    const intent = (await events(s.trail)).find((e) => e.type === 'action.intent');
    assert.deepEqual(intent?.action?.params, { city: 'Paris' });
    assert.equal(intent?.actor.id, 'support-bot');
  });

  it('does not run a denied tool; the model reads the rule and reason as a tool error', async () => {
    s = await setup();
    const ran: string[] = [];
    const { model, prompts } = scripted(
      callTool('c1', 'delete_order', { order: '1042' }),
      say('I cannot delete it.'),
    );
    const result = await generateText({
      model,
      tools: governAiSdkTools(s.governor, makeTools(ran)),
      prompt: 'Delete order 1042',
      stopWhen: stepCountIs(3),
    });
    assert.deepEqual(ran, []);
    const err = result.steps[0]?.content.find((p) => p.type === 'tool-error');
    assert.ok(err, 'a tool-error part');
    assert.match(String((err.error as Error).message), /block-deletes: Deletes are never automatic/);
    assert.match(toolResultsSeen(prompts[1]), /Deletes are never automatic/);
    assert.deepEqual(await lifecycle(s.trail, 'tool:delete_order'), ['action.intent', 'policy.decision']);
    const decision = (await events(s.trail)).find((e) => e.type === 'policy.decision');
    assert.equal(decision?.policy?.decision, 'deny');
  });

  it("pauses a require_approval call in the SDK's approval flow; granted, it runs with the approver recorded", async () => {
    s = await setup();
    const ran: string[] = [];
    const tools = governAiSdkTools(s.governor, makeTools(ran));
    const { model, prompts } = scripted(
      callTool('c1', 'refund', { order: '1042', amount: 900 }),
      say('Refunded.'),
    );
    const messages: ModelMessage[] = [{ role: 'user', content: 'Refund order 1042' }];
    const first = await generateText({ model, tools, messages, stopWhen: stepCountIs(3) });
    assert.deepEqual(ran, []);
    const request = first.content.find((p) => p.type === 'tool-approval-request');
    assert.ok(request, 'a tool-approval-request part');

    const response = await resolveAiSdkApproval(tools, request, {
      approved: true,
      approver: 'finance_lead',
      reason: 'verified with the customer',
    });
    messages.push(...first.response.messages, { role: 'tool', content: [response] });
    const second = await generateText({ model, tools, messages, stopWhen: stepCountIs(3) });
    assert.equal(second.text, 'Refunded.');
    assert.deepEqual(ran, ['refund']);
    assert.match(toolResultsSeen(prompts[1]), /refunded/);

    const log = await events(s.trail);
    assert.deepEqual(await lifecycle(s.trail, 'tool:refund'), [
      'action.intent',
      'policy.decision',
      'approval.requested',
      'approval.granted',
      'action.succeeded',
    ]);
    const granted = log.find((e) => e.type === 'approval.granted');
    assert.equal(granted?.approval?.approver, 'finance_lead');
    assert.equal(granted?.approval?.reason, 'verified with the customer');
  });

  it('a refused approval: the tool does not run, the denial and its approver are recorded', async () => {
    s = await setup();
    const ran: string[] = [];
    const tools = governAiSdkTools(s.governor, makeTools(ran));
    const { model, prompts } = scripted(
      callTool('c1', 'refund', { order: '1042', amount: 900 }),
      say('Not refunded.'),
    );
    const messages: ModelMessage[] = [{ role: 'user', content: 'Refund order 1042' }];
    const first = await generateText({ model, tools, messages });
    const request = first.content.find((p) => p.type === 'tool-approval-request');
    assert.ok(request);
    const response = await resolveAiSdkApproval(tools, request, {
      approved: false,
      approver: 'finance_lead',
      reason: 'duplicate request',
    });
    messages.push(...first.response.messages, { role: 'tool', content: [response] });
    await generateText({ model, tools, messages });
    assert.deepEqual(ran, []);
    assert.match(toolResultsSeen(prompts[1]), /execution-denied.*duplicate request/);
    const denied = (await events(s.trail)).find((e) => e.type === 'approval.denied');
    assert.equal(denied?.approval?.approver, 'finance_lead');
    const life = await lifecycle(s.trail, 'tool:refund');
    assert.ok(!life.some((t) => t === 'action.succeeded' || t === 'action.failed'), life.join());
  });

  it('an approver the rule does not name is refused, and the call stays paused', async () => {
    s = await setup();
    const tools = governAiSdkTools(s.governor, makeTools([]));
    const { model } = scripted(callTool('c1', 'refund', { order: '1', amount: 5 }));
    const first = await generateText({ model, tools, prompt: 'Refund order 1' });
    const request = first.content.find((p) => p.type === 'tool-approval-request');
    assert.ok(request);
    await assert.rejects(
      resolveAiSdkApproval(tools, request, { approved: true, approver: 'mallory' }),
      /may not decide/,
    );
  });

  it('records approvals that a chat client sent, in a fresh process (found by action digest)', async () => {
    s = await setup();
    const ran: string[] = [];
    const { model } = scripted(callTool('c1', 'refund', { order: '7', amount: 30 }), say('Done.'));
    const messages: ModelMessage[] = [{ role: 'user', content: 'Refund order 7' }];
    const first = await generateText({
      model,
      tools: governAiSdkTools(s.governor, makeTools(ran)),
      messages,
    });
    const request = first.content.find((p) => p.type === 'tool-approval-request');
    assert.ok(request);
    // The client answers; a new request handler wraps the tools anew (no in-memory state).
    messages.push(...first.response.messages, {
      role: 'tool',
      content: [{ type: 'tool-approval-response', approvalId: request.approvalId, approved: true }],
    });
    const fresh = governAiSdkTools(s.governor, makeTools(ran));
    assert.equal(await recordAiSdkApprovalResponses(fresh, messages, { approver: 'finance_lead' }), 1);
    await generateText({ model, tools: fresh, messages });
    assert.deepEqual(ran, ['refund']);
    const granted = (await events(s.trail)).find((e) => e.type === 'approval.granted');
    assert.equal(granted?.approval?.approver, 'finance_lead');
  });

  it('fails closed when the app approves in the SDK but never records who approved', async () => {
    s = await setup();
    const ran: string[] = [];
    const tools = governAiSdkTools(s.governor, makeTools(ran));
    const { model, prompts } = scripted(callTool('c1', 'refund', { order: '9', amount: 1 }), say('ok'));
    const messages: ModelMessage[] = [{ role: 'user', content: 'Refund order 9' }];
    const first = await generateText({ model, tools, messages });
    const request = first.content.find((p) => p.type === 'tool-approval-request');
    assert.ok(request);
    messages.push(...first.response.messages, {
      role: 'tool',
      content: [{ type: 'tool-approval-response', approvalId: request.approvalId, approved: true }],
    });
    await generateText({ model, tools, messages });
    assert.deepEqual(ran, []);
    assert.match(toolResultsSeen(prompts[1]), /still pending in the audit trail/);
    // The refused attempt is in the log, naming the request and the intent it belongs to.
    const log = await events(s.trail);
    const blocked = log.find((e) => e.type === 'action.cancelled' && e.outcome?.status === 'blocked');
    const requested = log.find((e) => e.type === 'approval.requested');
    assert.ok(blocked, log.map((e) => e.type).join());
    assert.equal(blocked.approval?.request_id, requested?.approval?.request_id);
    assert.equal(blocked.parent_event_id, requested?.parent_event_id);
    assert.match(blocked.outcome?.error_message ?? '', /still pending/);
    assert.equal((await s.trail.verify()).ok, true);
  });

  it("approvals: 'wait' holds execute until the request is decided elsewhere (CLI, dashboard)", async () => {
    s = await setup();
    const ran: string[] = [];
    const tools = governAiSdkTools(s.governor, makeTools(ran), { approvals: 'wait' });
    const { model } = scripted(callTool('c1', 'refund', { order: '3', amount: 10 }), say('Refunded.'));
    const approver = (async () => {
      for (;;) {
        const [pending] = await s.governor.approvals.list('pending');
        if (pending) return s.governor.approvals.approve(pending.id, { as: 'finance_lead' });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const result = await generateText({ model, tools, prompt: 'Refund order 3', stopWhen: stepCountIs(3) });
    await approver;
    assert.equal(result.text, 'Refunded.');
    assert.deepEqual(ran, ['refund']);
  });
});
