/**
 * OpenAI's strict structured outputs accept a subset of JSON Schema: an object at the root, every
 * object closed (`additionalProperties: false`) with every property required, and no tuples,
 * records, conditionals or intersections. `toStrictSchema` converts a task's schema (zod's
 * `toJSONSchema` output) into that subset, or says why it cannot. An optional property becomes
 * required but nullable, as OpenAI advises; `restore` then drops the `null`s the model sends for
 * such properties, so the answer validates against the task's own schema again.
 */

export interface StrictSchema {
  schema: Record<string, unknown>;
  /** The answer without the `null`s standing for optional properties the model left out. */
  restore(value: unknown): unknown;
}

/** Keywords strict mode rejects (the `openai` package's own strict transform refuses the same). */
const UNSUPPORTED_KEYWORDS = [
  'allOf',
  'not',
  'if',
  'then',
  'else',
  'patternProperties',
  'propertyNames',
  'prefixItems',
  'additionalItems',
  'unevaluatedProperties',
  'unevaluatedItems',
  'dependentRequired',
  'dependentSchemas',
  'dependencies',
  'contains',
  'minContains',
  'maxContains',
  'minProperties',
  'maxProperties',
  'uniqueItems',
  '$dynamicRef',
  '$dynamicAnchor',
  '$recursiveRef',
] as const;

const MAX_REF_HOPS = 32;

class NotStrictable extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function where(path: readonly string[]): string {
  return path.length === 0 ? 'the root' : `/${path.join('/')}`;
}

/** The strict form of `schema`, or why there is none (the caller then sends it with `strict: false`). */
export function toStrictSchema(schema: Record<string, unknown>): StrictSchema | { notStrict: string } {
  const optionalKeys = new WeakMap<object, ReadonlySet<string>>();
  let converted: Record<string, unknown>;
  try {
    converted = convert(schema, [], optionalKeys);
  } catch (error) {
    if (error instanceof NotStrictable) return { notStrict: error.message };
    throw error;
  }
  delete converted['$schema'];
  if (converted['type'] !== 'object') return { notStrict: 'the root is not an object (strict mode needs one)' };
  return { schema: converted, restore: (value) => restoreValue(value, converted, converted, optionalKeys) };
}

function convert(
  node: unknown,
  path: readonly string[],
  optionalKeys: WeakMap<object, ReadonlySet<string>>,
): Record<string, unknown> {
  if (!isRecord(node)) throw new NotStrictable(`${where(path)} is ${JSON.stringify(node)}, which allows any value`);
  const copy: Record<string, unknown> = { ...node };
  if ('additionalProperties' in copy && copy['additionalProperties'] !== false) {
    throw new NotStrictable(`${where(path)} allows additional properties (a record)`);
  }
  const unsupported = UNSUPPORTED_KEYWORDS.find((keyword) => keyword in copy);
  if (unsupported !== undefined) throw new NotStrictable(`${where(path)} uses ${unsupported}`);
  if (Array.isArray(copy['items'])) throw new NotStrictable(`${where(path)} is a tuple`);
  // A discriminated union's branches exclude each other, so anyOf accepts exactly what oneOf did.
  if (Array.isArray(copy['oneOf'])) {
    copy['anyOf'] = copy['oneOf'];
    delete copy['oneOf'];
  }
  const typed = ['type', '$ref', 'anyOf', 'enum', 'const', 'properties'].some((keyword) => keyword in copy);
  if (!typed) throw new NotStrictable(`${where(path)} has no type, so it allows any value`);
  const types = Array.isArray(copy['type']) ? copy['type'] : [copy['type']];
  const isObject = types.includes('object') || isRecord(copy['properties']);
  if (isObject) closeObject(copy, path, optionalKeys);
  if (types.includes('array') && copy['items'] === undefined)
    throw new NotStrictable(`${where(path)} is an array of anything`);
  if (isRecord(copy['items'])) copy['items'] = convert(copy['items'], [...path, 'items'], optionalKeys);
  if (Array.isArray(copy['anyOf'])) {
    copy['anyOf'] = copy['anyOf'].map((branch, index) =>
      convert(branch, [...path, 'anyOf', String(index)], optionalKeys),
    );
  }
  for (const keyword of ['$defs', 'definitions']) {
    const definitions = copy[keyword];
    if (!isRecord(definitions)) continue;
    copy[keyword] = Object.fromEntries(
      Object.entries(definitions).map(([name, definition]) => [
        name,
        convert(definition, [...path, keyword, name], optionalKeys),
      ]),
    );
  }
  return copy;
}

/** Closes an object and requires every property, optional ones made nullable (and remembered for `restore`). */
function closeObject(
  copy: Record<string, unknown>,
  path: readonly string[],
  optionalKeys: WeakMap<object, ReadonlySet<string>>,
): void {
  const properties = isRecord(copy['properties']) ? copy['properties'] : {};
  const required = new Set(Array.isArray(copy['required']) ? copy['required'] : []);
  const optional = new Set<string>();
  const strictProperties: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    const strict = convert(property, [...path, 'properties', name], optionalKeys);
    if (required.has(name) || allowsNull(property)) {
      strictProperties[name] = strict;
    } else {
      strictProperties[name] = { anyOf: [strict, { type: 'null' }] };
      optional.add(name);
    }
  }
  copy['properties'] = strictProperties;
  copy['required'] = Object.keys(strictProperties);
  copy['additionalProperties'] = false;
  if (optional.size > 0) optionalKeys.set(copy, optional);
}

function allowsNull(node: unknown): boolean {
  if (!isRecord(node)) return false;
  const type = node['type'];
  if (type === 'null' || (Array.isArray(type) && type.includes('null'))) return true;
  if ('const' in node && node['const'] === null) return true;
  if (Array.isArray(node['enum']) && node['enum'].includes(null)) return true;
  const branches = node['anyOf'] ?? node['oneOf'];
  return Array.isArray(branches) && branches.some(allowsNull);
}

/** Follows local `$ref`s (`#`, `#/$defs/…`) within the converted schema. */
function resolve(node: Record<string, unknown>, root: Record<string, unknown>): Record<string, unknown> {
  let current = node;
  for (let hop = 0; hop < MAX_REF_HOPS && typeof current['$ref'] === 'string'; hop += 1) {
    const ref = current['$ref'];
    if (!ref.startsWith('#')) return current;
    let target: unknown = root;
    for (const segment of ref.slice(1).split('/').filter(Boolean)) {
      const key = decodeURIComponent(segment).replace(/~1/g, '/').replace(/~0/g, '~');
      target = isRecord(target) ? target[key] : undefined;
    }
    if (!isRecord(target)) return current;
    current = target;
  }
  return current;
}

/** Whether `value` could be an instance of `node`, judged by its JSON type only (enough to pick an anyOf branch). */
function fits(value: unknown, node: Record<string, unknown>, root: Record<string, unknown>): boolean {
  const schema = resolve(node, root);
  if (Array.isArray(schema['anyOf']))
    return schema['anyOf'].some((branch) => isRecord(branch) && fits(value, branch, root));
  const types = Array.isArray(schema['type']) ? schema['type'] : schema['type'] === undefined ? [] : [schema['type']];
  if (types.length === 0) return isRecord(schema['properties']) ? isRecord(value) : true;
  return types.some((type) => {
    if (type === 'null') return value === null;
    if (type === 'object') return isRecord(value);
    if (type === 'array') return Array.isArray(value);
    if (type === 'number' || type === 'integer') return typeof value === 'number';
    return typeof value === type;
  });
}

function restoreValue(
  value: unknown,
  node: Record<string, unknown>,
  root: Record<string, unknown>,
  optionalKeys: WeakMap<object, ReadonlySet<string>>,
): unknown {
  const schema = resolve(node, root);
  if (Array.isArray(schema['anyOf'])) {
    const branch = schema['anyOf'].find((candidate) => isRecord(candidate) && fits(value, candidate, root));
    return isRecord(branch) ? restoreValue(value, branch, root, optionalKeys) : value;
  }
  const properties = schema['properties'];
  if (isRecord(value) && isRecord(properties)) {
    const optional = optionalKeys.get(schema);
    const restored: Record<string, unknown> = {};
    for (const [name, property] of Object.entries(value)) {
      if (property === null && optional?.has(name)) continue;
      const propertySchema = properties[name];
      restored[name] = isRecord(propertySchema) ? restoreValue(property, propertySchema, root, optionalKeys) : property;
    }
    return restored;
  }
  const items = schema['items'];
  if (Array.isArray(value) && isRecord(items))
    return value.map((item) => restoreValue(item, items, root, optionalKeys));
  return value;
}
