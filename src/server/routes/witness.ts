import type { FastifyInstance } from 'fastify';
import type { Witness } from '../../sdk/witness.js';

/** Largest add-checkpoint body: 63 proof lines and a checkpoint with its signatures fit in far less. */
const WITNESS_BODY_LIMIT = 64 * 1024;

/**
 * C2SP tlog-witness `POST /add-checkpoint` for `auditrail serve --witness DIR` (docs/keys.md):
 * no API key (the spec authenticates the checkpoint's signature, not the caller), a text body,
 * and the spec's status codes and bodies (409 `text/x.tlog.size` with the size last cosigned).
 * The witness state stays in DIR, never in the log's database.
 */
export async function witnessRoutes(app: FastifyInstance, witness: Witness): Promise<void> {
  await app.register((scope, _opts, next) => {
    // Any content type, read as UTF-8 text (this scope only; the rest of the API stays JSON).
    scope.addContentTypeParser(
      '*',
      { parseAs: 'string', bodyLimit: WITNESS_BODY_LIMIT },
      (_req, body, done) => done(null, body),
    );
    scope.post(
      '/add-checkpoint',
      {
        bodyLimit: WITNESS_BODY_LIMIT,
        schema: {
          summary:
            'C2SP tlog-witness add-checkpoint: cosign a checkpoint consistent with the last one cosigned',
          tags: ['witness'],
        },
      },
      (req, reply) => {
        const body = typeof req.body === 'string' ? req.body : '';
        const res = witness.addCheckpoint(body);
        if (res.evidence)
          req.log.warn({ evidence: res.evidence }, 'witness refused a fork or rollback; evidence kept');
        return reply.code(res.status).type(res.contentType).send(res.body);
      },
    );
    next();
  });
}
