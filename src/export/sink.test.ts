import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { EncodedParts, post } from './sink.js';

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;
let handler: Handler = (_req, _body, res) => res.end();
const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => handler(req, Buffer.concat(parts), res));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/in`;
after(() => server.close());

describe('post', () => {
  it('sends the body with its length and headers, and a 2xx is ok', async () => {
    let seen: { body: string; length: string | undefined; token: string | undefined } | undefined;
    handler = (req, body, res) => {
      seen = {
        body: body.toString(),
        length: req.headers['content-length'],
        token: req.headers['x-token'] as string | undefined,
      };
      res.writeHead(202).end('{}');
    };
    assert.deepEqual(await post(url, { 'x-token': 't' }, 'héllo', 5000), { kind: 'ok' });
    assert.deepEqual(seen, { body: 'héllo', length: '6', token: 't' });
  });

  it('classifies 503 with Retry-After as a retry after that long, 400 as permanent with the answer', async () => {
    handler = (_req, _body, res) => res.writeHead(503, { 'retry-after': '7' }).end('busy');
    assert.deepEqual(await post(url, {}, '[]', 5000), {
      kind: 'retry',
      status: 503,
      detail: 'HTTP 503: busy',
      retryAfterMs: 7000,
    });
    handler = (_req, _body, res) => res.writeHead(400).end('bad field');
    assert.deepEqual(await post(url, {}, '[]', 5000), {
      kind: 'permanent',
      status: 400,
      detail: 'HTTP 400: bad field',
    });
  });

  it('does not follow a redirect: the batch is retried, never sent elsewhere', async () => {
    let requests = 0;
    handler = (_req, _body, res) => {
      requests++;
      res.writeHead(302, { location: `${url}/other` }).end();
    };
    const r = await post(url, {}, '[]', 5000);
    assert.equal(r.kind, 'retry');
    assert.match((r as { detail: string }).detail, /HTTP 302: redirects are not followed/);
    assert.equal(requests, 1);
  });

  it('gives up on a receiver that never answers after the timeout, and on a refused connection', async () => {
    handler = () => undefined; // reads the request, never answers
    const t = performance.now();
    const r = await post(url, {}, '[]', 200);
    assert.deepEqual(r, { kind: 'retry', status: null, detail: 'request failed: no answer within 200 ms' });
    assert.ok(performance.now() - t < 2000);
    const closed = createServer();
    await new Promise<void>((res) => closed.listen(0, '127.0.0.1', res));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((res) => closed.close(res));
    assert.deepEqual(await post(`http://127.0.0.1:${port}/`, {}, '[]', 2000), {
      kind: 'retry',
      status: null,
      detail: 'request failed: ECONNREFUSED',
    });
    assert.deepEqual(await post('not a url', {}, '[]', 2000), {
      kind: 'retry',
      status: null,
      detail: 'request failed: Invalid URL',
    });
  });
});

describe('EncodedParts', () => {
  it('joins parts of any size and script, across its buffers, with their exact sizes', () => {
    const parts = new EncodedParts();
    const texts = ['{"a":"é"}', 'ß'.repeat(700_000), '{"b":"😀"}', 'x'.repeat(1 << 20), '{}'];
    for (const t of texts) parts.add(t);
    assert.equal(parts.length, texts.length);
    assert.deepEqual(
      texts.map((_, i) => parts.size(i)),
      texts.map((t) => Buffer.byteLength(t)),
    );
    assert.equal(parts.join('[', ',', ']').toString(), `[${texts.join(',')}]`);
    assert.equal(parts.join('', '\n', '', 1, 3).toString(), `${texts[1]}\n${texts[2]}`);
    assert.equal(new EncodedParts().join('[', ',', ']').toString(), '[]');
  });
});
