import { createHmac } from 'node:crypto';
import type { WebhookSinkConfig } from '../config.js';
import { encodingSink, post, type EncodingSink } from '../sink.js';

export const SIGNATURE_HEADER = 'x-auditrail-signature';
export const TIMESTAMP_HEADER = 'x-auditrail-timestamp';

/**
 * The signature a receiver recomputes: `sha256=` + hex HMAC-SHA256 over `<timestamp>.<body>`
 * keyed with the shared secret (docs/siem.md, "Webhook").
 *
 * @example
 * webhookSignature('s3cret', '1767225600', '[]') // 'sha256=…'
 */
export function webhookSignature(
  secret: string,
  timestamp: string,
  body: string | Uint8Array | readonly Uint8Array[],
): string {
  // The body's bytes as sent (a string is taken as its UTF-8; pieces one after another), after `<timestamp>.`.
  const hmac = createHmac('sha256', secret).update(`${timestamp}.`);
  if (typeof body === 'string' || body instanceof Uint8Array) hmac.update(body);
  else for (const piece of body) hmac.update(piece);
  return `sha256=${hmac.digest('hex')}`;
}

/** POSTs each batch as a JSON array, signed (HMAC-SHA256 of timestamp and body); an {@link EncodingSink}. */
export function webhookSink(config: WebhookSinkConfig, now: () => number = Date.now): EncodingSink {
  return encodingSink(
    {},
    (r) => r.json,
    (parts) => {
      // Encoded once: the signature is computed over the bytes that are sent.
      const body = parts.pieces('[', ',', ']');
      const ts = String(Math.floor(now() / 1000));
      return post(
        config.url,
        {
          ...config.headers,
          'content-type': 'application/json',
          [TIMESTAMP_HEADER]: ts,
          [SIGNATURE_HEADER]: webhookSignature(config.secret, ts, body),
        },
        body,
        config.timeout_ms ?? 30_000,
      );
    },
  );
}
