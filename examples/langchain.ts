/**
 * A governed LangChain.js tool loop, offline: LangChain's own FakeStreamingChatModel plays the
 * model. One tool is allowed, one denied; the callback handler adds model usage and what the
 * agent read. A refund needs an approval: LangChain core has no approval pause, so the governor
 * holds the call until someone approves it (here a colleague, via the SDK; in production
 * `auditrail approvals approve ID --as finance_lead`).
 *
 *   node --import tsx examples/langchain.ts
 *
 * Installed, the imports are `auditrail` and `auditrail/adapters/langchain`.
 */
import { AIMessageChunk, HumanMessage, type BaseMessage, type ToolMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { FakeStreamingChatModel } from '@langchain/core/utils/testing';
import { z } from 'zod';
import { Governor, openAuditTrail, parsePolicy } from '../src/index.js';
import { AuditCallbackHandler, governLangChainTool } from '../src/integrations/langchain.js';
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
  session_id: 'sess-langchain-1',
  approvals: {
    pollMs: 50,
    onRequest: (req) => console.log(`approval ${req.id} needed from ${req.approvers.join(' or ')}`),
  },
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
].map((t) => governLangChainTool(governor, t));
const byName = new Map(tools.map((t) => [t.name, t]));

// The model asks for three tool calls at once.
const model = new FakeStreamingChatModel({
  chunks: [
    new AIMessageChunk({
      content: '',
      tool_calls: [
        { id: 'call-1', name: 'get_order', args: { order: '1042' }, type: 'tool_call' },
        { id: 'call-2', name: 'delete_order', args: { order: '1042' }, type: 'tool_call' },
        { id: 'call-3', name: 'refund', args: { order: '1042', amount: 42 }, type: 'tool_call' },
      ],
    }),
  ],
}).bindTools(tools);

// A colleague approving from elsewhere (in production: the CLI or the dashboard).
const colleague = (async () => {
  for (;;) {
    const [pending] = await governor.approvals.list('pending');
    if (pending)
      return governor.approvals.approve(pending.id, { as: 'finance_lead', reason: 'damage confirmed' });
    await new Promise((r) => setTimeout(r, 50));
  }
})();

const callbacks = [new AuditCallbackHandler(governor)];
const messages: BaseMessage[] = [new HumanMessage('Order 1042 arrived broken. Delete it, or refund me.')];
const ai = await model.invoke(messages, { callbacks });
messages.push(ai);
for (const call of ai.tool_calls ?? []) {
  const result = (await byName
    .get(call.name)!
    .invoke({ ...call, type: 'tool_call' }, { callbacks })) as ToolMessage;
  console.log(`tool ${call.name} (${result.status ?? 'success'}): ${result.text}`);
  messages.push(result);
}
await colleague;

await trail.flush();
console.log('');
for (const e of (await trail.query({ limit: 100 })).events) {
  const detail = e.policy
    ? `${e.policy.decision} (${e.policy.matched_rule ?? 'default'})`
    : e.approval?.approver
      ? `by ${e.approval.approver}`
      : e.model
        ? `${e.model.name}: ${e.model.input_tokens ?? '?'} in / ${e.model.output_tokens ?? '?'} out`
        : (e.outcome?.status ?? '');
  console.log(
    `${String(e.seq).padStart(2)}  ${e.type.padEnd(18)} ${(e.action?.type ?? '').padEnd(18)} ${detail}`,
  );
}
console.log(`\nlog verifies: ${(await trail.verify()).ok}`);
await trail.close();
