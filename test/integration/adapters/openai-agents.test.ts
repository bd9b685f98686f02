import assert from 'node:assert/strict';
import { afterEach, before, describe, it } from 'node:test';
import { Agent, Runner, setTracingDisabled, tool } from '@openai/agents';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents/testing';
import { z } from 'zod';
import {
  governedTool,
  governFunctionTool,
  resolveOpenAIAgentsApproval,
} from '../../../src/integrations/openai-agents.js';
import type { Governor } from '../../../src/index.js';
import { events, lifecycle, setup, type Setup } from './fixtures.js';

const params = z.object({ order: z.string(), amount: z.number().optional() });

function makeTools(governor: Governor, ran: string[]) {
  return [
    governedTool(governor, {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: z.object({ city: z.string() }),
      execute: ({ city }) => {
        ran.push('get_weather');
        return `sunny in ${city}`;
      },
    }),
    governedTool(governor, {
      name: 'delete_order',
      description: 'Delete an order',
      parameters: params,
      execute: () => {
        ran.push('delete_order');
        return 'deleted';
      },
    }),
    governedTool(governor, {
      name: 'refund',
      description: 'Refund an order',
      parameters: params,
      execute: ({ order }) => {
        ran.push('refund');
        return `refunded ${order}`;
      },
    }),
  ];
}

/** The tool outputs the model was shown on its last call, as text. */
function outputsSeen(model: ScriptedModel): string {
  const input = model.lastCall?.request.input;
  return JSON.stringify(Array.isArray(input) ? input.filter((i) => i.type === 'function_call_result') : []);
}

describe('OpenAI Agents adapter (@openai/agents 0.20, ScriptedModel)', () => {
  let s: Setup;
  before(() => setTracingDisabled(true));
  afterEach(() => s.close());

  it('runs an allowed tool and records intent, decision, dispatch and outcome', async () => {
    s = await setup();
    const ran: string[] = [];
    const model = new ScriptedModel([
      [functionCall('get_weather', { city: 'Paris' }, { callId: 'c1' })],
      [assistantMessage('Sunny.')],
    ]);
    const agent = new Agent({
      name: 'support',
      instructions: 'help',
      model,
      tools: makeTools(s.governor, ran),
    });
    const result = await new Runner().run(agent, 'Weather in Paris?');
    assert.equal(result.finalOutput, 'Sunny.');
    assert.deepEqual(ran, ['get_weather']);
    assert.match(outputsSeen(model), /sunny in Paris/);
    assert.deepEqual(await lifecycle(s.trail, 'tool:get_weather'), [
      'action.intent',
      'policy.decision',
      'action.succeeded',
    ]);
  });

  it('does not run a denied tool; the model reads the rule and reason as the tool output', async () => {
    s = await setup();
    const ran: string[] = [];
    const model = new ScriptedModel([
      [functionCall('delete_order', { order: '1042' }, { callId: 'c1' })],
      [assistantMessage('I may not.')],
    ]);
    const agent = new Agent({
      name: 'support',
      instructions: 'help',
      model,
      tools: makeTools(s.governor, ran),
    });
    const result = await new Runner().run(agent, 'Delete order 1042');
    assert.equal(result.finalOutput, 'I may not.');
    assert.deepEqual(ran, []);
    assert.match(outputsSeen(model), /block-deletes: Deletes are never automatic/);
    assert.deepEqual(await lifecycle(s.trail, 'tool:delete_order'), ['action.intent', 'policy.decision']);
  });

  it('interrupts a require_approval call; approved, it runs with the approver recorded', async () => {
    s = await setup();
    const ran: string[] = [];
    const model = new ScriptedModel([
      [functionCall('refund', { order: '1042', amount: 900 }, { callId: 'c1' })],
      [assistantMessage('Refunded.')],
    ]);
    const agent = new Agent({
      name: 'support',
      instructions: 'help',
      model,
      tools: makeTools(s.governor, ran),
    });
    const runner = new Runner();
    let result = await runner.run(agent, 'Refund order 1042');
    assert.equal(result.interruptions.length, 1);
    assert.deepEqual(ran, []);
    for (const item of result.interruptions) {
      await resolveOpenAIAgentsApproval(s.governor, result.state, item, {
        approved: true,
        approver: 'finance_lead',
        reason: 'verified',
      });
    }
    result = await runner.run(agent, result.state);
    assert.equal(result.finalOutput, 'Refunded.');
    assert.deepEqual(ran, ['refund']);
    assert.deepEqual(await lifecycle(s.trail, 'tool:refund'), [
      'action.intent',
      'policy.decision',
      'approval.requested',
      'approval.granted',
      'action.succeeded',
    ]);
    const granted = (await events(s.trail)).find((e) => e.type === 'approval.granted');
    assert.equal(granted?.approval?.approver, 'finance_lead');
    assert.equal(granted?.approval?.reason, 'verified');
  });

  it('rejected, the tool does not run; the model reads who rejected it and why', async () => {
    s = await setup();
    const ran: string[] = [];
    const model = new ScriptedModel([
      [functionCall('refund', { order: '1042', amount: 900 }, { callId: 'c1' })],
      [assistantMessage('Not refunded.')],
    ]);
    const agent = new Agent({
      name: 'support',
      instructions: 'help',
      model,
      tools: makeTools(s.governor, ran),
    });
    const runner = new Runner();
    let result = await runner.run(agent, 'Refund order 1042');
    const [item] = result.interruptions;
    assert.ok(item);
    await resolveOpenAIAgentsApproval(s.governor, result.state, item, {
      approved: false,
      approver: 'finance_lead',
      reason: 'duplicate',
    });
    result = await runner.run(agent, result.state);
    assert.deepEqual(ran, []);
    assert.match(outputsSeen(model), /rejected by finance_lead: duplicate/);
    const denied = (await events(s.trail)).find((e) => e.type === 'approval.denied');
    assert.equal(denied?.approval?.approver, 'finance_lead');
    const life = await lifecycle(s.trail, 'tool:refund');
    assert.ok(!life.some((t) => t === 'action.succeeded' || t === 'action.failed'), life.join());
  });

  it('an approval given with state.approve() alone (no approver recorded) does not run the tool', async () => {
    s = await setup();
    const ran: string[] = [];
    const model = new ScriptedModel([
      [functionCall('refund', { order: '5', amount: 1 }, { callId: 'c1' })],
      [assistantMessage('ok')],
    ]);
    const agent = new Agent({
      name: 'support',
      instructions: 'help',
      model,
      tools: makeTools(s.governor, ran),
    });
    const runner = new Runner();
    let result = await runner.run(agent, 'Refund order 5');
    const [item] = result.interruptions;
    assert.ok(item);
    result.state.approve(item, { alwaysApprove: true });
    result = await runner.run(agent, result.state);
    assert.deepEqual(ran, []);
    assert.match(outputsSeen(model), /still pending in the audit trail/);
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

  it('governs an existing FunctionTool by wrapping its invoke', async () => {
    s = await setup();
    const ran: string[] = [];
    const plain = tool({
      name: 'delete_order',
      description: 'Delete an order',
      parameters: params,
      execute: () => {
        ran.push('delete_order');
        return 'deleted';
      },
    });
    const weather = tool({
      name: 'get_weather',
      description: 'Weather',
      parameters: z.object({ city: z.string() }),
      execute: ({ city }) => {
        ran.push('get_weather');
        return `rain in ${city}`;
      },
    });
    const model = new ScriptedModel([
      [
        functionCall('delete_order', { order: '1' }, { callId: 'c1' }),
        functionCall('get_weather', { city: 'Oslo' }, { callId: 'c2' }),
      ],
      [assistantMessage('done')],
    ]);
    const agent = new Agent({
      name: 'support',
      instructions: 'help',
      model,
      tools: [governFunctionTool(s.governor, plain), governFunctionTool(s.governor, weather)],
    });
    await new Runner().run(agent, 'go');
    assert.deepEqual(ran, ['get_weather']);
    assert.match(outputsSeen(model), /Deletes are never automatic/);
    assert.match(outputsSeen(model), /rain in Oslo/);
    assert.deepEqual(await lifecycle(s.trail, 'tool:get_weather'), [
      'action.intent',
      'policy.decision',
      'action.succeeded',
    ]);
  });
});
