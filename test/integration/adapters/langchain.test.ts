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
import { tool, type DynamicStructuredTool } from '@langchain/core/tools';
import { FakeStreamingChatModel } from '@langchain/core/utils/testing';
import { z } from 'zod';
import { AuditCallbackHandler, governLangChainTool } from '../../../src/integrations/langchain.js';
import type { Governor } from '../../../src/index.js';
import {
  blockingTurn,
  cases,
  runCase,
  skipFor,
  toolBody,
  type Done,
  type Driver,
  type Framework,
  type ToolName,
} from './cases.js';
import { events, setup, type Setup, type SetupOptions } from './fixtures.js';

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

function modelCalling(name: string, args: Record<string, unknown>, id = 'c1') {
  return new ScriptedChatModel({
    chunks: [new AIMessageChunk({ content: '', tool_calls: [{ id, name, args, type: 'tool_call' }] })],
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

// One schema for the shared tools: every argument the cases send.
const args = z.object({
  city: z.string().optional(),
  order: z.string().optional(),
  amount: z.number().optional(),
  report: z.string().optional(),
  api_key: z.string().optional(),
});

/** The four tools of the shared cases, governed. */
function sharedTools(governor: Governor, ran: string[]): Record<ToolName, DynamicStructuredTool> {
  const make = (name: ToolName) =>
    governLangChainTool(
      governor,
      tool(
        (input) => {
          ran.push(name);
          return Promise.resolve(toolBody(name, input));
        },
        { name, description: `The ${name} tool`, schema: args },
      ),
    );
  return {
    get_weather: make('get_weather'),
    delete_order: make('delete_order'),
    refund: make('refund'),
    export_report: make('export_report'),
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

/**
 * The shared cases' driver: each call is one {@link turn} of LangChain's tool-calling loop.
 * LangChain core has no approval pause: a held call blocks in the governor until the request is
 * decided in the trail (as from the CLI), which is how the driver answers it.
 */
async function start(options: SetupOptions): Promise<Driver> {
  const s = await setup(options);
  const ran: string[] = [];
  const tools = sharedTools(s.governor, ran);
  let calls = 0;
  return {
    trail: s.trail,
    store: s.store,
    governor: s.governor,
    ran,
    close: () => s.close(),
    call(name, input) {
      const id = `c${++calls}`;
      const running = turn(modelCalling(name, input, id), tools[name], []).then(
        ({ toolMessage, secondInput }): Done => {
          assert.equal(toolMessage.tool_call_id, id);
          assert.ok(
            secondInput.some((m) => m.text === toolMessage.text),
            'the model was sent the ToolMessage',
          );
          return { kind: 'done', shown: toolMessage.text, error: toolMessage.status === 'error' };
        },
        // A tool's own failure leaves the loop (LangChain's default): the app sees the error.
        (error: unknown): Done => ({ kind: 'done', shown: String(error), error: true }),
      );
      return blockingTurn(s.governor, running);
    },
  };
}

const langChain: Framework = {
  name: 'LangChain',
  prefix: 'tool:',
  start,
  recorded: (text) => ({ content: text, status: 'success' }),
  says: {
    denied: /^Not run: action denied by block-deletes/,
    rejected: (id) => new RegExp(`^Not run: approval ${id} denied by finance_lead: duplicate request$`),
  },
  unsupported: {
    'unrecorded-approval':
      'LangChain core has no approval of its own: a held call waits on the trail, where every approval names its approver',
  },
};

describe('LangChain adapter (@langchain/core 1.x, FakeStreamingChatModel): shared cases', () => {
  for (const c of cases) it(c.name, skipFor(langChain, c), () => runCase(langChain, c));
});

describe('LangChain adapter (@langchain/core 1.x, FakeStreamingChatModel)', () => {
  let s: Setup;
  afterEach(() => s.close());

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
