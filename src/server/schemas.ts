import { EVENT_SCHEMA } from '../event/schema.js';
import { PROBLEM_BASE, PROBLEM_CODES } from './problem.js';

/** References into the OpenAPI components (the route schemas document their bodies with them). */
export const EVENT_REF = { $ref: '#/components/schemas/Event' } as const;
export const RECEIPT_REF = { $ref: '#/components/schemas/Receipt' } as const;
export const PROBLEM_REF = { $ref: '#/components/schemas/Problem' } as const;

/** The component schemas: the event is the event model's own JSON Schema (one source of truth). */
export function componentSchemas(): Record<string, unknown> {
  const { $schema: _s, $id: _i, ...event } = EVENT_SCHEMA as unknown as Record<string, unknown>;
  return {
    Event: event,
    Receipt: {
      type: 'object',
      required: ['seq', 'event_id', 'leaf_hash'],
      properties: {
        seq: { type: 'integer', minimum: -1, description: '-1 when sampling dropped the event' },
        event_id: { type: 'string' },
        leaf_hash: {
          type: 'string',
          description: 'hex SHA-256 leaf hash (RFC 6962 §2.1); empty when sampled out',
        },
        sampled_out: {
          type: 'boolean',
          description: 'true when the sampling: of the server config dropped the event (counted, not stored)',
        },
      },
    },
    Problem: {
      type: 'object',
      description: `RFC 9457 problem details; \`type\` is \`${PROBLEM_BASE}<code>\``,
      required: ['type', 'title', 'status', 'detail', 'code'],
      properties: {
        type: { type: 'string', format: 'uri' },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        code: { type: 'string', enum: [...PROBLEM_CODES] },
        errors: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              index: { type: 'integer' },
              field: { type: 'string', description: 'JSON pointer within the event' },
              rule: { type: 'string' },
              message: { type: 'string' },
            },
          },
        },
      },
    },
  };
}
