// `auditrail serve` from the TypeScript sources (through tsx), for nats-ingest.test.ts: the test
// kills this process with SIGKILL or stops it with SIGTERM while producers keep publishing.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
