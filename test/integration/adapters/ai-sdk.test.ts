import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  generateText,
  jsonSchema,
  stepCountIs,
  tool,
  type ModelMessage,
  type ToolApprovalResponse,
} from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import {
  governAiSdkTools,
  recordAiSdkApprovalResponses,
  resolveAiSdkApproval,
  type AiSdkApprovalRequest,
} from '../../../src/integrations/ai-sdk.js';
import {
  cases,
  runCase,
  skipFor,
  toolBody,
  type Driver,
  type Framework,
  type Paused,
  type ToolName,
  type Turn,
} from './cases.js';
import { events, setup, type Setup, type SetupOptions } from './fixtures.js';

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

/**
 * What the model was shown in a prompt as the output of call `id`: the text of a text or error
 * output, else the output as JSON (an `execution-denied` with its reason); and whether the SDK
 * marked it as an error or a denial.
 */
function outputSeen(prompt: Prompt | undefined, id: string): { shown: string; error: boolean } {
  for (const m of prompt ?? []) {
    if (m.role !== 'tool') continue;
    for (const part of m.content) {
      if (part.type !== 'tool-result' || part.toolCallId !== id) continue;
      const output = part.output;
      return {
        shown: output.type === 'text' || output.type === 'error-text' ? output.value : JSON.stringify(output),
        error: output.type.startsWith('error-') || output.type === 'execution-denied',
      };
    }
  }
  assert.fail(`the model was not shown the output of ${id}`);
}

function makeTools(ran: string[]) {
  const input = jsonSchema<Record<string, unknown>>({
    type: 'object',
    properties: {
      order: { type: 'string' },
      city: { type: 'string' },
      amount: { type: 'number' },
      report: { type: 'string' },
      api_key: { type: 'string' },
    },
  });
  const make = (name: ToolName, description: string) =>
    tool({
      description,
      inputSchema: input,
      execute: (args) => {
        ran.push(name);
        return Promise.resolve(toolBody(name, args));
      },
    });
  return {
    get_weather: make('get_weather', 'Weather for a city'),
    delete_order: make('delete_order', 'Delete an order'),
    refund: make('refund', 'Refund an order'),
    export_report: make('export_report', 'Export a report'),
  };
}

/**
 * The shared cases' driver: each call is one `generateText` run of a scripted model that calls
 * the tool, then answers "done"; a paused call is answered with the adapter's approval helper
 * and the run resumed with the approval response, as the AI SDK documents.
 */
async function start(options: SetupOptions): Promise<Driver> {
  const s = await setup(options);
  const ran: string[] = [];
  const tools = governAiSdkTools(s.governor, makeTools(ran));
  let calls = 0;
  return {
    trail: s.trail,
    store: s.store,
    governor: s.governor,
    ran,
    close: () => s.close(),
    call(name, args) {
      const id = `c${++calls}`;
      const { model, prompts } = scripted(callTool(id, name, args), say('done'));
      const messages: ModelMessage[] = [{ role: 'user', content: `please ${name}` }];
      const generate = async (): Promise<Turn> => {
        const result = await generateText({ model, tools, messages, stopWhen: stepCountIs(3) });
        messages.push(...result.response.messages);
        const request = result.content.find((p) => p.type === 'tool-approval-request');
        if (request) return pausedOn(request);
        assert.equal(result.text, 'done', 'the model read the tool result and answered');
        return { kind: 'done', ...outputSeen(prompts.at(-1), id) };
      };
      const pausedOn = async (request: AiSdkApprovalRequest & { approvalId: string }): Promise<Paused> => {
        const pending = await s.governor.approvals.list('pending');
        assert.equal(pending.length, 1, 'one approval request for the paused call');
        const paused: Paused = {
          kind: 'paused',
          requestId: pending[0]!.id,
          answer: async (verdict) => {
            let response: ToolApprovalResponse;
            try {
              response = await resolveAiSdkApproval(tools, request, verdict);
            } catch (error) {
              return { ...paused, refused: (error as Error).message };
            }
            messages.push({ role: 'tool', content: [response] });
            return generate();
          },
          // The app approved in the SDK (an approval response) and never recorded who approved.
          approveUnrecorded: () => {
            messages.push({
              role: 'tool',
              content: [{ type: 'tool-approval-response', approvalId: request.approvalId, approved: true }],
            });
            return generate();
          },
        };
        return paused;
      };
      return generate();
    },
  };
}

const aiSdk: Framework = {
  name: 'AI SDK',
  prefix: 'tool:',
  start,
  recorded: (text) => text,
  says: {
    denied: /action denied by block-deletes/,
    rejected: () => /execution-denied.*duplicate request/,
    unrecorded: /still pending in the audit trail/,
  },
};

describe('AI SDK adapter (ai v6, MockLanguageModelV3): shared cases', () => {
  for (const c of cases) it(c.name, skipFor(aiSdk, c), () => runCase(aiSdk, c));
});

describe('AI SDK adapter (ai v6, MockLanguageModelV3)', () => {
  let s: Setup;
  afterEach(() => s.close());

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
