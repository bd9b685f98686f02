/**
 * Child process of witness-race.test.ts: loads the witness in <dir>, waits for a line on stdin
 * (so all children submit at the same instant), hands it the add-checkpoint body in <file> and
 * prints `<status> <body first line>`.
 * Usage: node --import tsx test/integration/witness-race-child.ts <dir> <file>
 */
import { readFileSync } from 'node:fs';
import { Witness } from '../../src/index.js';

const [dir, file] = process.argv.slice(2);
if (!dir || !file) throw new Error('usage: witness-race-child.ts <dir> <file>');
const witness = Witness.open(dir);
const body = readFileSync(file, 'utf8');
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
process.stdin.pause();
const res = witness.addCheckpoint(body);
process.stdout.write(`${res.status} ${res.body.split('\n')[0]}\n`);
