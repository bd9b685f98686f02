import assert from 'node:assert/strict';
import { afterEach, before, describe, it } from 'node:test';
import { Agent, Runner, setTracingDisabled, tool, type RunToolApprovalItem } from '@openai/agents';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents/testing';
import { z } from 'zod';
import {
  governedTool,
  governFunctionTool,
  resolveOpenAIAgentsApproval,
} from '../../../src/integrations/openai-agents.js';
import type { Governor } from '../../../src/index.js';
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
import { lifecycle, setup, type Setup, type SetupOptions } from './fixtures.js';

const params = z.object({ order: z.string(), amount: z.number().optional() });

// One schema for the shared tools: every argument the cases send.
const args = z.object({
  city: z.string().optional(),
  order: z.string().optional(),
  amount: z.number().optional(),
  report: z.string().optional(),
  api_key: z.string().optional(),
});

const DESCRIPTIONS: Record<ToolName, string> = {
  get_weather: 'Weather for a city',
  delete_order: 'Delete an order',
  refund: 'Refund an order',
  export_report: 'Export a report',
};

function makeTools(governor: Governor, ran: string[]) {
  return (Object.keys(DESCRIPTIONS) as ToolName[]).map((name) =>
    governedTool(governor, {
      name,
      description: DESCRIPTIONS[name],
      parameters: args,
      execute: (input) => {
        ran.push(name);
        return toolBody(name, input);
      },
    }),
  );
}

/** What the model was shown on its last call as the output of call `id`: its text, else its JSON. */
function outputOf(model: ScriptedModel, id: string): string {
  const input = model.lastCall?.request.input;
  const item = (Array.isArray(input) ? input : []).find(
    (i) => i.type === 'function_call_result' && i.callId === id,
  );
  assert.ok(item?.type === 'function_call_result', `the model was shown the output of ${id}`);
  const output = item.output;
  if (typeof output === 'string') return output;
  return !Array.isArray(output) && output.type === 'text' ? output.text : JSON.stringify(output);
}

/** The tool outputs the model was shown on its last call, as text. */
function outputsSeen(model: ScriptedModel): string {
  const input = model.lastCall?.request.input;
  return JSON.stringify(Array.isArray(input) ? input.filter((i) => i.type === 'function_call_result') : []);
}

/**
 * The shared cases' driver: each call is one `Runner.run` of an agent whose scripted model calls
 * the tool, then answers "done"; a paused call is an interruption, answered with the adapter's
 * approval helper and resumed from the run state, as the Agents SDK documents.
 */
async function start(options: SetupOptions): Promise<Driver> {
  const s = await setup(options);
  const ran: string[] = [];
  const tools = makeTools(s.governor, ran);
  const runner = new Runner();
  let calls = 0;
  return {
    trail: s.trail,
    store: s.store,
    governor: s.governor,
    ran,
    close: () => s.close(),
    async call(name, input) {
      const id = `c${++calls}`;
      const model = new ScriptedModel([
        [functionCall(name, input, { callId: id })],
        [assistantMessage('done')],
      ]);
      const agent = new Agent({ name: 'support', instructions: 'help', model, tools });
      const begin = () => runner.run(agent, `please ${name}`);
      type Result = Awaited<ReturnType<typeof begin>>;
      const settle = async (result: Result): Promise<Turn> => {
        const [item, ...more] = result.interruptions;
        if (item) {
          assert.equal(more.length, 0, 'one interruption for the one call');
          return pausedOn(result, item);
        }
        assert.equal(result.finalOutput, 'done', 'the model read the tool output and answered');
        // The Agents SDK has no error flag on a tool output: the model reads text either way.
        return { kind: 'done', shown: outputOf(model, id) };
      };
      const pausedOn = async (result: Result, item: RunToolApprovalItem): Promise<Paused> => {
        const pending = await s.governor.approvals.list('pending');
        assert.equal(pending.length, 1, 'one approval request for the interrupted call');
        const paused: Paused = {
          kind: 'paused',
          requestId: pending[0]!.id,
          answer: async (verdict) => {
            try {
              await resolveOpenAIAgentsApproval(s.governor, result.state, item, verdict);
            } catch (error) {
              return { ...paused, refused: (error as Error).message };
            }
            return settle(await runner.run(agent, result.state));
          },
          // The app approved in the run state alone: nobody is recorded as the approver.
          approveUnrecorded: async () => {
            result.state.approve(item, { alwaysApprove: true });
            return settle(await runner.run(agent, result.state));
          },
        };
        return paused;
      };
      return settle(await begin());
    },
  };
}

const openAiAgents: Framework = {
  name: 'OpenAI Agents',
  prefix: 'tool:',
  start,
  recorded: (text) => text,
  says: {
    denied: /Not run: action denied by block-deletes/,
    rejected: (id) => new RegExp(`^Not run: ${id} was rejected by finance_lead: duplicate request$`),
    unrecorded: /still pending in the audit trail/,
  },
};

describe('OpenAI Agents adapter (@openai/agents 0.20, ScriptedModel): shared cases', () => {
  before(() => setTracingDisabled(true));
  for (const c of cases) it(c.name, skipFor(openAiAgents, c), () => runCase(openAiAgents, c));
});

describe('OpenAI Agents adapter (@openai/agents 0.20, ScriptedModel)', () => {
  let s: Setup;
  before(() => setTracingDisabled(true));
  afterEach(() => s.close());

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
