/**
 * A governed Vercel AI SDK (v6) agent, offline: the AI SDK's own MockLanguageModelV3 plays the
 * model. One tool is allowed, one denied, one needs a person's approval (the SDK's tool-approval
 * flow, with the approver recorded in the audit trail).
 *
 *   node --import tsx examples/ai-sdk.ts
 *
 * Installed, the imports are `auditrail` and `auditrail/adapters/ai-sdk`.
 */
import { generateText, jsonSchema, stepCountIs, tool, type ModelMessage } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { Governor, openAuditTrail, parsePolicy } from '../src/index.js';
import { governAiSdkTools, resolveAiSdkApproval } from '../src/integrations/ai-sdk.js';
import { MemoryStore } from '../src/testing/index.js';

const policy = parsePolicy(`
policy_id: shop-assistant
version: 1
default: deny
rules:
  - id: allow-order-lookups
    match: { action: "tool:get_order" }
    effect: allow
  - id: no-deletes
    match: { action: "tool:delete_order" }
    effect: deny
    reason: Orders are never deleted by an agent
  - id: approve-refunds
    match: { action: "tool:refund" }
    effect: require_approval
    approvers: [finance_lead]
    approval_ttl: 15m
`);

// In production: openAuditTrail({ tenant: 'acme' }) keeps the log in ./.auditrail/audit.db.
const trail = await openAuditTrail({ tenant: 'acme', store: new MemoryStore() });
const governor = new Governor({
  trail,
  policy,
  actor: { type: 'agent', id: 'shop-assistant', trust_tier: 'standard' },
  session_id: 'sess-ai-sdk-1',
});

const order = jsonSchema<{ order: string; amount?: number }>({
  type: 'object',
  properties: { order: { type: 'string' }, amount: { type: 'number' } },
  required: ['order'],
});
const tools = governAiSdkTools(governor, {
  get_order: tool({
    description: 'Look up an order',
    inputSchema: order,
    execute: ({ order: id }) => Promise.resolve({ id, status: 'delivered', total: 42 }),
  }),
  delete_order: tool({
    description: 'Delete an order',
    inputSchema: order,
    execute: ({ order: id }) => Promise.resolve({ deleted: id }), // never runs: the policy denies it
  }),
  refund: tool({
    description: 'Refund an order',
    inputSchema: order,
    execute: ({ order: id, amount }) => Promise.resolve({ refunded: id, amount }),
  }),
});

// The model, scripted: look up, try to delete, then ask for a refund; finally answer.
type Step = Awaited<ReturnType<MockLanguageModelV3['doGenerate']>>;
const usage = {
  inputTokens: { total: 20, noCache: 20, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 10, text: 10, reasoning: undefined },
};
const call = (id: string, toolName: string, input: unknown): Step => ({
  content: [{ type: 'tool-call', toolCallId: id, toolName, input: JSON.stringify(input) }],
  finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
  usage,
  warnings: [],
});
const script: Step[] = [
  call('call-1', 'get_order', { order: '1042' }),
  call('call-2', 'delete_order', { order: '1042' }),
  call('call-3', 'refund', { order: '1042', amount: 42 }),
  {
    content: [{ type: 'text', text: 'Order 1042 has been refunded.' }],
    finishReason: { unified: 'stop', raw: 'stop' },
    usage,
    warnings: [],
  },
];
const model = new MockLanguageModelV3({ doGenerate: () => Promise.resolve(script.shift()!) });

const messages: ModelMessage[] = [
  { role: 'user', content: 'Order 1042 arrived broken. Delete it, or refund me.' },
];
let result = await generateText({ model, tools, messages, stopWhen: stepCountIs(5) });
for (const step of result.steps) {
  for (const part of step.content) {
    if (part.type === 'tool-result') console.log(`tool ${part.toolName}: ${JSON.stringify(part.output)}`);
    if (part.type === 'tool-error')
      console.log(`tool ${part.toolName} refused: ${(part.error as Error).message}`);
  }
}

// The run paused on the refund. A person decides; the verdict is recorded with their name.
messages.push(...result.response.messages);
for (const part of result.content) {
  if (part.type !== 'tool-approval-request') continue;
  console.log(`approval needed for ${part.toolCall.toolName} ${JSON.stringify(part.toolCall.input)}`);
  const response = await resolveAiSdkApproval(tools, part, {
    approved: true,
    approver: 'finance_lead',
    reason: 'photo of the damage checked',
  });
  messages.push({ role: 'tool', content: [response] });
}
result = await generateText({ model, tools, messages, stopWhen: stepCountIs(5) });
console.log(`assistant: ${result.text}\n`);

await trail.flush();
for (const e of (await trail.query({ limit: 100 })).events) {
  const detail = e.policy
    ? `${e.policy.decision} (${e.policy.matched_rule ?? 'default'})`
    : e.approval?.approver
      ? `by ${e.approval.approver}`
      : (e.outcome?.status ?? '');
  console.log(
    `${String(e.seq).padStart(2)}  ${e.type.padEnd(18)} ${(e.action?.type ?? '').padEnd(18)} ${detail}`,
  );
}
console.log(`\nlog verifies: ${(await trail.verify()).ok}`);
await trail.close();
