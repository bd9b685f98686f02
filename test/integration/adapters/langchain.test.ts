import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import {
  AIMessageChunk,
  HumanMessage,
  type BaseMessage,
  type ToolMessage,
  type UsageMetadata,
} from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';
import { tool } from '@langchain/core/tools';
import { FakeStreamingChatModel } from '@langchain/core/utils/testing';
import { z } from 'zod';
import { AuditCallbackHandler, governLangChainTool } from '../../../src/integrations/langchain.js';
import { events, lifecycle, setup, type Setup } from './fixtures.js';

/** LangChain's fake chat model, answering with the given tool calls and reporting token usage. */
class ScriptedChatModel extends FakeStreamingChatModel {
  // The base class rebinds to a plain FakeStreamingChatModel; keep this one (it ignores tool specs).
  override bindTools(): ReturnType<FakeStreamingChatModel['bindTools']> {
    return this.withConfig({});
  }

  override async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const result = await super._generate(messages, {});
    const message = result.generations[0]!.message as unknown as { usage_metadata?: UsageMetadata };
    message.usage_metadata = { input_tokens: 12, output_tokens: 7, total_tokens: 19 };
    return result;
  }
}

function modelCalling(name: string, args: Record<string, unknown>) {
  return new ScriptedChatModel({
    chunks: [new AIMessageChunk({ content: '', tool_calls: [{ id: 'c1', name, args, type: 'tool_call' }] })],
  });
}

function makeTools(ran: string[]) {
  const order = z.object({ order: z.string(), amount: z.number().optional() });
  return {
    get_weather: tool(
      ({ city }) => {
        ran.push('get_weather');
        return Promise.resolve(`sunny in ${city}`);
      },
      { name: 'get_weather', description: 'Weather for a city', schema: z.object({ city: z.string() }) },
    ),
    delete_order: tool(
      () => {
        ran.push('delete_order');
        return Promise.resolve('deleted');
      },
      { name: 'delete_order', description: 'Delete an order', schema: order },
    ),
    refund: tool(
      ({ order: id }) => {
        ran.push('refund');
        return Promise.resolve(`refunded ${id}`);
      },
      { name: 'refund', description: 'Refund an order', schema: order },
    ),
  };
}

/**
 * One turn of the tool-calling loop LangChain documents: the model asks for a tool, the tool's
 * ToolMessage goes back to the model. Returns what the model was sent on the second call.
 */
async function turn(
  model: FakeStreamingChatModel,
  t: ReturnType<typeof governLangChainTool>,
  callbacks: BaseCallbackHandler[],
): Promise<{ toolMessage: ToolMessage; secondInput: BaseMessage[] }> {
  const bound = model.bindTools([t]);
  const messages: BaseMessage[] = [new HumanMessage('please')];
  const ai = await bound.invoke(messages, { callbacks });
  const call = ai.tool_calls?.[0];
  assert.ok(call);
  const toolMessage = (await t.invoke({ ...call, type: 'tool_call' }, { callbacks })) as ToolMessage;
  messages.push(ai, toolMessage);
  let secondInput: BaseMessage[] = [];
  const capture = BaseCallbackHandler.fromMethods({
    handleChatModelStart(_llm, batches) {
      secondInput = batches[0] ?? [];
    },
  });
  await bound.invoke(messages, { callbacks: [...callbacks, capture] });
  return { toolMessage, secondInput };
}

describe('LangChain adapter (@langchain/core 1.x, FakeStreamingChatModel)', () => {
  let s: Setup;
  afterEach(() => s.close());

  it('runs an allowed tool and records intent, decision, dispatch and outcome', async () => {
    s = await setup();
    const ran: string[] = [];
    const governed = governLangChainTool(s.governor, makeTools(ran).get_weather);
    const { toolMessage, secondInput } = await turn(
      modelCalling('get_weather', { city: 'Paris' }),
      governed,
      [],
    );
    assert.deepEqual(ran, ['get_weather']);
    assert.equal(toolMessage.text, 'sunny in Paris');
    assert.equal(toolMessage.tool_call_id, 'c1');
    assert.ok(secondInput.some((m) => m.text === 'sunny in Paris'));
    assert.deepEqual(await lifecycle(s.trail, 'tool:get_weather'), [
      'action.intent',
      'policy.decision',
      'action.succeeded',
    ]);
    const outcome = (await events(s.trail)).find((e) => e.type === 'action.succeeded');
    assert.deepEqual(outcome?.outcome?.result, { content: 'sunny in Paris', status: 'success' });
  });

  it('does not run a denied tool; the model receives an error ToolMessage with the reason', async () => {
    s = await setup();
    const ran: string[] = [];
    const governed = governLangChainTool(s.governor, makeTools(ran).delete_order);
    const { toolMessage, secondInput } = await turn(
      modelCalling('delete_order', { order: '1042' }),
      governed,
      [],
    );
    assert.deepEqual(ran, []);
    assert.equal(toolMessage.status, 'error');
    assert.match(toolMessage.text, /block-deletes: Deletes are never automatic/);
    assert.ok(secondInput.some((m) => /Deletes are never automatic/.test(m.text)));
    assert.deepEqual(await lifecycle(s.trail, 'tool:delete_order'), ['action.intent', 'policy.decision']);
  });

  it('a plain invocation returns the refusal text, or throws with onRefusal: throw', async () => {
    s = await setup();
    const tools = makeTools([]);
    assert.match(
      String(await governLangChainTool(s.governor, tools.delete_order).invoke({ order: '1' })),
      /^Not run: .*Deletes are never automatic/,
    );
    await assert.rejects(
      governLangChainTool(s.governor, tools.delete_order, { onRefusal: 'throw' }).invoke({ order: '1' }),
      { name: 'ActionDeniedError' },
    );
  });

  it('require_approval waits for the governor; granted (as from the CLI), it runs with the approver recorded', async () => {
    s = await setup();
    const ran: string[] = [];
    const governed = governLangChainTool(s.governor, makeTools(ran).refund);
    const approver = (async () => {
      for (;;) {
        const [pending] = await s.governor.approvals.list('pending');
        if (pending)
          return s.governor.approvals.approve(pending.id, { as: 'finance_lead', reason: 'ok by me' });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const { toolMessage } = await turn(modelCalling('refund', { order: '1042', amount: 900 }), governed, []);
    await approver;
    assert.deepEqual(ran, ['refund']);
    assert.equal(toolMessage.text, 'refunded 1042');
    assert.deepEqual(await lifecycle(s.trail, 'tool:refund'), [
      'action.intent',
      'policy.decision',
      'approval.requested',
      'approval.granted',
      'action.succeeded',
    ]);
    const granted = (await events(s.trail)).find((e) => e.type === 'approval.granted');
    assert.equal(granted?.approval?.approver, 'finance_lead');
  });

  it('require_approval denied by the approver: the tool does not run and the model is told why', async () => {
    s = await setup();
    const ran: string[] = [];
    const governed = governLangChainTool(s.governor, makeTools(ran).refund);
    const approver = (async () => {
      for (;;) {
        const [pending] = await s.governor.approvals.list('pending');
        if (pending)
          return s.governor.approvals.deny(pending.id, { as: 'finance_lead', reason: 'duplicate' });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const { toolMessage } = await turn(modelCalling('refund', { order: '1042', amount: 900 }), governed, []);
    await approver;
    assert.deepEqual(ran, []);
    assert.equal(toolMessage.status, 'error');
    assert.match(toolMessage.text, /denied by finance_lead: duplicate/);
    assert.ok((await lifecycle(s.trail, 'tool:refund')).includes('approval.denied'));
  });

  it('with approvals.wait false the model is told the call awaits approval; after the grant a retry runs', async () => {
    s = await setup({ wait: false });
    const ran: string[] = [];
    const governed = governLangChainTool(s.governor, makeTools(ran).refund);
    const call = { id: 'c1', name: 'refund', args: { order: '77', amount: 5 }, type: 'tool_call' as const };
    const first = (await governed.invoke(call)) as ToolMessage;
    assert.equal(first.status, 'error');
    assert.match(first.text, /^Not run yet: approval apr_\S+ required from finance_lead/);
    const [pending] = await s.governor.approvals.list('pending');
    assert.ok(pending);
    await s.governor.approvals.approve(pending.id, { as: 'finance_lead' });
    const second = (await governed.invoke({ ...call, id: 'c2' })) as ToolMessage;
    assert.equal(second.text, 'refunded 77');
    assert.deepEqual(ran, ['refund']);
  });

  it('AuditCallbackHandler records model usage and ungoverned tool output, and skips governed runs', async () => {
    s = await setup();
    const audit = new AuditCallbackHandler(s.governor);
    const tools = makeTools([]);
    await turn(modelCalling('get_weather', { city: 'Rome' }), tools.get_weather as never, [audit]);
    await turn(
      modelCalling('get_weather', { city: 'Oslo' }),
      governLangChainTool(s.governor, tools.get_weather),
      [audit],
    );
    const log = await events(s.trail);
    const usage = log.filter((e) => e.type === 'x.model.usage');
    assert.equal(usage.length, 4);
    assert.deepEqual(usage[0]?.model, {
      name: 'ScriptedChatModel',
      provider: 'ScriptedChatModel',
      input_tokens: 12,
      output_tokens: 7,
    });
    const accessed = log.filter((e) => e.type === 'context.accessed');
    assert.equal(accessed.length, 1, 'only the ungoverned tool run');
    assert.deepEqual(accessed[0]?.action?.params, { city: 'Rome' });
    assert.equal(accessed[0]?.outcome?.result, 'sunny in Rome');
    assert.equal(accessed[0]?.metadata?.['tool_call_id'], 'c1');
    assert.equal(log.filter((e) => e.type === 'action.succeeded').length, 1, 'the governed run, once');
  });
});
