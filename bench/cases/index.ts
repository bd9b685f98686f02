/**
 * Every benchmark group, in the order they run (a group's `needs` must come before it). To add
 * figures, write `bench/cases/<name>.ts` calling `addBenchmark` and import it here.
 */
import './sqlite-commit.js';
import './baseline.js';
import './ingest.js';
import './bulk-append.js';
import './verify.js';
import './proof.js';
import './timeline.js';
import './governance.js';
import './mcp-proxy.js';
import './http.js';
import './storage.js';
import './evidence.js';
import './export.js';
import './reports.js';
import './dashboard.js';
import './retention.js';
import './detect.js';
import './privacy.js';
import './archive.js';
import './postgres.js';
import './responses.js';
