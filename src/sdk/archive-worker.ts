/**
 * The archive's encoding thread (see archive.ts): takes packed parts, encodes each as its two
 * Parquet files, writes them (mode 0600) and answers with their names, sizes and SHA-256.
 */
import { parentPort } from 'node:worker_threads';
import { writePart, type EncodeReply, type EncodeRequest } from './archive-encode.js';

const port = parentPort;
if (port) {
  port.on('message', (m: EncodeRequest) => {
    let reply: EncodeReply;
    try {
      reply = { id: m.id, ok: true, files: writePart(m.dir, m.part) };
    } catch (e) {
      reply = { id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(reply);
  });
}
