/**
 * The HTTP API reference (`docs/api.md`) rendered from the server's OpenAPI document, so the
 * reference and the validated route schemas cannot drift apart: `npm run api-doc` writes it, and a
 * test regenerates it and compares.
 */

interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  default?: unknown;
  description?: string;
}

interface Parameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  schema: Schema;
}

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  'x-scopes'?: string[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: Schema }> }>;
}

/** The OpenAPI document as `GET /openapi.json` serves it (the parts the reference shows). */
export interface ApiDocument {
  info: { title: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const TAG_TITLES: Record<string, string> = {
  events: 'Events',
  governance: 'Governance',
  approvals: 'Approvals',
  transparency: 'Transparency log (auditors)',
  admin: 'Administration',
  system: 'System',
};

/** Markdown table cells hold no pipe and no line break. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/** `a–b`, `≥ a` or `≤ b` (null without bounds). */
function range(min: number | undefined, max: number | undefined): string | null {
  if (min !== undefined && max !== undefined) return `${min}–${max}`;
  if (min !== undefined) return `≥ ${min}`;
  if (max !== undefined) return `≤ ${max}`;
  return null;
}

/** One line describing a schema: its type and the bounds a client must respect. */
export function describeSchema(s: Schema | undefined): string {
  if (s === undefined) return 'any';
  if (s.$ref !== undefined) return s.$ref.replace('#/components/schemas/', '');
  if (s.oneOf ?? s.anyOf) return (s.oneOf ?? s.anyOf)!.map(describeSchema).join(' or ');
  if (s.const !== undefined) return code(JSON.stringify(s.const));
  if (s.enum !== undefined) return s.enum.map((v) => code(String(v))).join(', ');
  const types = s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
  const bounds: string[] = [];
  if (s.format !== undefined) bounds.push(s.format);
  const chars = range(s.minLength === 0 ? undefined : s.minLength, s.maxLength);
  if (chars !== null) bounds.push(`${chars} chars`);
  const value = range(s.minimum, s.maximum);
  if (value !== null) bounds.push(value);
  if (s.pattern !== undefined) bounds.push(`pattern ${code(s.pattern)}`);
  if (s.default !== undefined) bounds.push(`default ${code(JSON.stringify(s.default))}`);
  let base: string;
  if (types.includes('array')) {
    const n = range(s.minItems, s.maxItems);
    base = `array${n !== null ? ` (${n})` : ''} of ${describeSchema(s.items)}`;
  } else if (s.properties !== undefined && Object.keys(s.properties).length > 0) {
    // One level: the member names, `*` on the required ones.
    const required = new Set(s.required ?? []);
    const members = Object.keys(s.properties).map((m) => (required.has(m) ? `${m}*` : m));
    base = `object {${members.join(', ')}}`;
  } else if (types.length === 0) base = 'any';
  else base = types.join(' or ');
  return bounds.length > 0 ? `${base} (${bounds.join(', ')})` : base;
}

/** The members of an object schema as table rows (one level; nested objects are named only). */
function memberRows(s: Schema): string[] {
  const required = new Set(s.required ?? []);
  return Object.entries(s.properties ?? {}).map(
    ([name, p]) =>
      `| ${code(name)} | ${required.has(name) ? 'yes' : ''} | ${cell(describeSchema(p))} | ${cell(p.description ?? '')} |`,
  );
}

function bodySection(schema: Schema): string[] {
  const out = ['', `Body (\`application/json\`): ${describeSchema(schema)}.`];
  if (schema.properties !== undefined && Object.keys(schema.properties).length > 0) {
    out.push('', '| member | required | type | description |', '| --- | --- | --- | --- |');
    out.push(...memberRows(schema));
    if (schema.additionalProperties === false) out.push('', 'No other member is accepted.');
  }
  return out;
}

function operationSection(method: string, path: string, op: Operation): string[] {
  const out = [`### ${code(`${method.toUpperCase()} ${path}`)}`, ''];
  if (op.summary !== undefined) out.push(`${op.summary}.`);
  if (op.description !== undefined) out.push('', op.description);
  const scopes = op['x-scopes'];
  out.push('', scopes ? `Key scope: ${scopes.map(code).join(' or ')}.` : 'Public: no API key needed.');
  const params = op.parameters ?? [];
  if (params.length > 0) {
    out.push('', '| parameter | in | required | type | description |', '| --- | --- | --- | --- | --- |');
    for (const p of params) {
      out.push(
        `| ${code(p.name)} | ${p.in} | ${p.required ? 'yes' : ''} | ${cell(describeSchema(p.schema))} | ${cell(p.schema.description ?? '')} |`,
      );
    }
  }
  const body = op.requestBody?.content['application/json']?.schema;
  if (body !== undefined) out.push(...bodySection(body));
  out.push('', '| status | meaning | content |', '| --- | --- | --- |');
  for (const [status, r] of Object.entries(op.responses)) {
    const content = Object.entries(r.content ?? {})
      .map(([type, c]) => (c.schema ? `${code(type)}: ${describeSchema(c.schema)}` : code(type)))
      .join('; ');
    out.push(`| ${status} | ${cell(r.description)} | ${cell(content)} |`);
  }
  return out;
}

/**
 * Renders the API reference from the OpenAPI document: the routes grouped by tag, each with its
 * key scope, parameters, body members and responses, then the shared component schemas.
 *
 * @example
 * const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
 * writeFileSync('docs/api.md', renderApiReference(doc));
 */
export function renderApiReference(doc: ApiDocument): string {
  const byTag = new Map<string, [string, string, Operation][]>();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = op.tags?.[0] ?? 'other';
      const list = byTag.get(tag) ?? [];
      list.push([method, path, op]);
      byTag.set(tag, list);
    }
  }
  const order = [...Object.keys(TAG_TITLES), ...[...byTag.keys()].filter((t) => !(t in TAG_TITLES)).sort()];
  const out = [
    '<!-- Generated from GET /openapi.json by `npm run api-doc` (src/server/api-doc.ts): do not edit. -->',
    '',
    `# ${doc.info.title}: reference`,
    '',
    doc.info.description ?? '',
    '',
    'Every route but the public ones needs `Authorization: Bearer <API key>` with one of the scopes',
    'named; the key’s tenant is the log read or written. How to run the server, create keys and',
    'deploy it: [server.md](server.md). The machine-readable form is `GET /openapi.json`. In the',
    'types below, `object {a*, b}` is an object whose member `a` is required and `b` optional.',
    '',
    '## Routes',
    '',
  ];
  for (const tag of order) {
    const ops = byTag.get(tag);
    if (!ops) continue;
    out.push(
      `- ${TAG_TITLES[tag] ?? tag}: ${ops.map(([m, p]) => code(`${m.toUpperCase()} ${p}`)).join(', ')}`,
    );
  }
  for (const tag of order) {
    const ops = byTag.get(tag);
    if (!ops) continue;
    out.push('', `## ${TAG_TITLES[tag] ?? tag}`);
    for (const [method, path, op] of ops) out.push('', ...operationSection(method, path, op));
  }
  out.push('', '## Schemas');
  for (const [name, s] of Object.entries(doc.components.schemas)) {
    out.push('', `### ${name}`);
    if (name === 'Event') {
      out.push(
        '',
        'The event model: its JSON Schema is [schema/event.v1.schema.json](schema/event.v1.schema.json)',
        '(fields explained in [concepts.md](concepts.md)). Top-level members:',
      );
    } else if (s.description !== undefined) out.push('', `${s.description}.`);
    out.push('', '| member | required | type | description |', '| --- | --- | --- | --- |', ...memberRows(s));
  }
  return `${out.join('\n')}\n`;
}
