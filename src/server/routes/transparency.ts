import type { FastifyInstance } from 'fastify';
import { principalOf, type ServerContext } from '../context.js';
import { fail } from '../problem.js';

/**
 * A C2SP tlog-tiles path after `/tile/`: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, where N is
 * written in 3-digit groups, all but the last prefixed with `x` (1234067 → x001/x234/067).
 */
export function parseTilePath(
  rest: string,
): { level: number | 'entries'; index: number; width: number } | undefined {
  const parts = rest.split('/');
  const head = parts.shift();
  let level: number | 'entries';
  if (head === 'entries') level = 'entries';
  else if (head !== undefined && /^(0|[1-9][0-9]?)$/.test(head)) level = Number(head);
  else return undefined;
  let width = 256;
  if (parts.length >= 2 && parts[parts.length - 2]!.endsWith('.p')) {
    const w = parts.pop()!;
    if (!/^[1-9][0-9]{0,2}$/.test(w) || Number(w) > 255) return undefined;
    width = Number(w);
    parts[parts.length - 1] = parts[parts.length - 1]!.slice(0, -2);
  }
  if (parts.length === 0 || parts.length > 6) return undefined;
  let digits = '';
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const m = (last ? /^([0-9]{3})$/ : /^x([0-9]{3})$/).exec(parts[i]!);
    if (!m) return undefined;
    digits += m[1];
  }
  const index = Number(digits);
  // The shortest form only: x000/001 is not a name of tile 1.
  if (parts.length > 1 && digits.startsWith('000')) return undefined;
  if (!Number.isSafeInteger(index)) return undefined;
  return { level, index, width };
}

export function transparencyRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/checkpoint',
    {
      config: { scopes: ['read'] },
      schema: {
        summary: "The latest signed checkpoint of the key's tenant log (C2SP signed note)",
        tags: ['transparency'],
        'x-responses': { 200: { description: 'text/plain signed note', content: 'text/plain' } },
      },
    },
    async (req, reply) => {
      const trail = await ctx.trails.get(principalOf(req).tenant);
      const note = await trail.latestCheckpoint();
      if (note === undefined) fail('not_found', 'no checkpoint is signed yet');
      return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-cache').send(note);
    },
  );

  app.get(
    '/tile/*',
    {
      config: { scopes: ['read'] },
      schema: {
        summary: 'C2SP tlog-tiles: /tile/{L}/{N}[.p/{W}] (hash tiles) and /tile/entries/{N}[.p/{W}]',
        description:
          'N is written in 3-digit groups, all but the last prefixed with x (1234067 → x001/x234/067). ' +
          'Entry bundles hold each leaf record prefixed by its big-endian uint16 length. Only tiles ' +
          'under the latest signed checkpoint are served.',
        tags: ['transparency'],
        'x-responses': {
          200: { description: 'application/octet-stream', content: 'application/octet-stream' },
        },
      },
    },
    async (req, reply) => {
      const rest = (req.params as { '*': string })['*'];
      const t = parseTilePath(rest);
      if (!t) fail('not_found', 'not a tile path (see C2SP tlog-tiles)');
      const trail = await ctx.trails.get(principalOf(req).tenant);
      const body =
        t.level === 'entries'
          ? await trail.readEntryBundle(t.index, t.width)
          : await trail.readTile(t.level, t.index, t.width);
      // A tile's content never changes once it exists (a partial one is named by its width).
      return reply
        .type('application/octet-stream')
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(body);
    },
  );

  app.get(
    '/v1/proofs/inclusion',
    {
      config: { scopes: ['read'] },
      schema: {
        summary: 'Inclusion proof of one event under a signed checkpoint',
        tags: ['transparency'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['seq'],
          properties: { seq: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
        },
        'x-responses': {
          200: { description: 'tree size, proof hashes (base64) and checkpoint', schema: { type: 'object' } },
        },
      },
    },
    async (req) => {
      const { seq } = req.query as { seq: number };
      const trail = await ctx.trails.get(principalOf(req).tenant);
      const b = await trail.prove(seq);
      return {
        seq,
        leaf: b.leaf,
        tree_size: b.inclusion.tree_size,
        proof: b.inclusion.proof,
        checkpoint: b.checkpoint,
      };
    },
  );

  app.get(
    '/v1/proofs/consistency',
    {
      config: { scopes: ['read'] },
      schema: {
        summary: 'Consistency proof between two tree sizes (RFC 9162 §2.1.4)',
        tags: ['transparency'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['from', 'to'],
          properties: {
            from: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
            to: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
          },
        },
        'x-responses': { 200: { description: 'proof hashes (base64)', schema: { type: 'object' } } },
      },
    },
    async (req) => {
      const { from, to } = req.query as { from: number; to: number };
      const trail = await ctx.trails.get(principalOf(req).tenant);
      return { from, to, proof: await trail.proveConsistency(from, to) };
    },
  );

  app.get(
    '/v1/proofs/bundle/:seq',
    {
      config: { scopes: ['read'] },
      schema: {
        summary: 'The proof bundle `auditrail prove` writes (auditrail-proof/v1), checkable offline',
        tags: ['transparency'],
        params: {
          type: 'object',
          required: ['seq'],
          properties: { seq: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
        },
        'x-responses': { 200: { description: 'auditrail-proof/v1 bundle', schema: { type: 'object' } } },
      },
    },
    async (req) => {
      const { seq } = req.params as { seq: number };
      const trail = await ctx.trails.get(principalOf(req).tenant);
      return trail.prove(seq);
    },
  );
}
