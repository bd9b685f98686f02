/**
 * A governed LangChain v1 agent (`createAgent`), offline: LangChain's own `fakeModel()` plays the
 * model and asks for three tools at once. The auditrail middleware lets the lookup run, refuses
 * the delete, and pauses the refund with LangGraph's `interrupt()`; a person approves it with
 * `Command({ resume })`, their decision is recorded, and the refund runs once.
 *
 *   node --import tsx examples/langchain-agent.ts
 *
 * Installed, the imports are `auditrail` and `auditrail/adapters/langchain-middleware`.
 */
import { Command, MemorySaver } from '@langchain/langgraph';
import { AIMessage, createAgent, fakeModel, tool } from 'langchain';
import { z } from 'zod';
import { Governor, openAuditTrail, parsePolicy } from '../src/index.js';
import { auditrailMiddleware, isApprovalInterrupt } from '../src/integrations/langchain-middleware.js';
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
  session_id: 'sess-langchain-agent-1',
});

const order = z.object({ order: z.string(), amount: z.number().optional() });
const tools = [
  tool(({ order: id }) => Promise.resolve(JSON.stringify({ id, status: 'delivered', total: 42 })), {
    name: 'get_order',
    description: 'Look up an order',
    schema: order,
  }),
  // Never runs: the policy denies it.
  tool(({ order: id }) => Promise.resolve(`deleted ${id}`), {
    name: 'delete_order',
    description: 'Delete an order',
    schema: order,
  }),
  tool(({ order: id, amount }) => Promise.resolve(`refunded ${amount ?? 0} on order ${id}`), {
    name: 'refund',
    description: 'Refund an order',
    schema: order,
  }),
];

const model = fakeModel()
  .respondWithTools([
    { id: 'call-1', name: 'get_order', args: { order: '1042' } },
    { id: 'call-2', name: 'delete_order', args: { order: '1042' } },
    { id: 'call-3', name: 'refund', args: { order: '1042', amount: 42 } },
  ])
  .respond(new AIMessage('Refunded 42 on order 1042; deleting orders is not something I can do.'));

const agent = createAgent({
  model,
  tools,
  middleware: [auditrailMiddleware({ governor })],
  checkpointer: new MemorySaver(), // interrupts need one; use a durable saver in production
});
const config = { configurable: { thread_id: 'order-1042' } };

let result = await agent.invoke(
  { messages: [{ role: 'user', content: 'Order 1042 arrived broken. Delete it, or refund me.' }] },
  config,
);
// Each paused call is one interrupt; answer each (by interrupt id) as the person who decided.
while (result.__interrupt__ && result.__interrupt__.length > 0) {
  const answers: Record<string, unknown> = {};
  for (const { id, value } of result.__interrupt__) {
    if (id === undefined || !isApprovalInterrupt(value)) continue;
    console.log(
      `paused: ${value.action.type} ${JSON.stringify(value.params)} needs ${value.approvers.join(' or ')}`,
    );
    // Your UI asks here; the approver must be one the rule names.
    answers[id] = {
      decision: 'approve',
      approver: 'finance_lead',
      reason: 'damage confirmed',
      request_id: value.request_id,
    };
  }
  if (Object.keys(answers).length === 0) break; // another middleware's interrupt: not ours to answer
  result = await agent.invoke(new Command({ resume: answers }), config);
}
for (const m of result.messages) {
  console.log(`${m.getType().padEnd(5)} ${m.text}`);
}

await trail.flush();
console.log('');
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
