/**
 * A governed OpenAI Agents SDK agent, offline: the SDK's own ScriptedModel plays the model. One
 * tool is allowed, one denied, one interrupts the run for a person's approval
 * (`result.interruptions` → approve with the approver recorded → resume).
 *
 *   node --import tsx examples/openai-agents.ts
 *
 * Installed, the imports are `auditrail` and `auditrail/adapters/openai-agents`.
 */
import { Agent, Runner, setTracingDisabled } from '@openai/agents';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents/testing';
import { z } from 'zod';
import { Governor, openAuditTrail, parsePolicy } from '../src/index.js';
import { governedTool, resolveOpenAIAgentsApproval } from '../src/integrations/openai-agents.js';
import { MemoryStore } from '../src/testing/index.js';

setTracingDisabled(true); // offline: no trace export to the OpenAI platform

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
  session_id: 'sess-openai-1',
});

const order = z.object({ order: z.string(), amount: z.number().optional() });
const tools = [
  governedTool(governor, {
    name: 'get_order',
    description: 'Look up an order',
    parameters: order,
    execute: ({ order: id }) => JSON.stringify({ id, status: 'delivered', total: 42 }),
  }),
  governedTool(governor, {
    name: 'delete_order',
    description: 'Delete an order',
    parameters: order,
    execute: ({ order: id }) => `deleted ${id}`, // never runs: the policy denies it
  }),
  governedTool(governor, {
    name: 'refund',
    description: 'Refund an order',
    parameters: order,
    execute: ({ order: id, amount }) => `refunded ${amount ?? 0} on order ${id}`,
  }),
];

const model = new ScriptedModel([
  [
    functionCall('get_order', { order: '1042' }, { callId: 'call-1' }),
    functionCall('delete_order', { order: '1042' }, { callId: 'call-2' }),
  ],
  [functionCall('refund', { order: '1042', amount: 42 }, { callId: 'call-3' })],
  [assistantMessage('Order 1042 has been refunded.')],
]);
const agent = new Agent({ name: 'shop-assistant', instructions: 'Help with orders.', model, tools });
const runner = new Runner();

let result = await runner.run(agent, 'Order 1042 arrived broken. Delete it, or refund me.');
while (result.interruptions.length > 0) {
  for (const item of result.interruptions) {
    console.log(`approval needed for ${item.name} ${item.arguments}`);
    await resolveOpenAIAgentsApproval(governor, result.state, item, {
      approved: true,
      approver: 'finance_lead',
      reason: 'photo of the damage checked',
    });
  }
  result = await runner.run(agent, result.state);
}
for (const item of result.newItems) {
  if (item.type === 'tool_call_output_item') console.log(`tool output: ${JSON.stringify(item.output)}`);
}
console.log(`assistant: ${String(result.finalOutput)}\n`);

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
