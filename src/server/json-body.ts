import { HttpProblem, problem } from './problem.js';

/** Deepest nesting of arrays and objects a request body may have. */
export const MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function bad(detail: string): HttpProblem {
  return new HttpProblem(problem('bad_request', detail));
}

/**
 * Parses a request body strictly: valid UTF-8 (no replacement characters slipped in), valid JSON,
 * no member name twice in one object (parsers disagree on which one wins, so an event could mean
 * one thing to us and another to a downstream reader), at most {@link MAX_JSON_DEPTH} levels deep.
 * Throws an {@link HttpProblem} (400) naming what is wrong.
 *
 * @example
 * parseStrictJson(Buffer.from('{"a":1,"a":2}')) // throws: duplicate member "a"
 */
export function parseStrictJson(body: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw bad('the body is not valid UTF-8');
  }
  if (text.length === 0) throw bad('the body is empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw bad(`the body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
  checkStructure(text);
  return value;
}

interface Frame {
  object: boolean;
  keys: Set<string> | null;
  expectKey: boolean;
}

// The text is valid JSON already: walk it once, tracking objects' member names and the depth.
function checkStructure(text: string): void {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= MAX_JSON_DEPTH)
        throw bad(`the body is nested deeper than ${MAX_JSON_DEPTH} levels`);
      stack.push({ object: c === 0x7b, keys: c === 0x7b ? new Set() : null, expectKey: c === 0x7b });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.object) top.expectKey = true;
    } else if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      const top = stack[stack.length - 1];
      if (top?.object && top.expectKey) {
        const raw = text.slice(start, i + 1);
        const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.keys!.has(key))
          throw bad(`duplicate member ${JSON.stringify(key.slice(0, 64))} in an object`);
        top.keys!.add(key);
        top.expectKey = false;
      }
    }
  }
}
