import { seededIndex, seededUnit } from './seeded';

/** A JSON Schema node (or the Gemini OpenAPI-subset form) seen as a plain object. */
export type SchemaNode = Readonly<Record<string, unknown>>;

/** Beyond this depth only required properties and minimum array lengths are produced. */
const MAX_DEPTH = 12;
const MAX_REF_HOPS = 32;

const WORDS = [
  'amber',
  'basin',
  'cedar',
  'delta',
  'ember',
  'fjord',
  'grove',
  'harbor',
  'island',
  'juniper',
  'kestrel',
  'lagoon',
  'meadow',
  'nectar',
  'orchard',
  'prairie',
  'quartz',
  'river',
  'summit',
  'tundra',
  'upland',
  'valley',
  'willow',
  'yarrow',
  'zephyr',
  'canyon',
  'glacier',
  'mesa',
] as const;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  // The Gemini form sends int64 fields (minItems, maxLength…) as strings.
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
    return Number(value);
  }
  return undefined;
}

function followPointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const raw of ref
    .slice(1)
    .split('/')
    .filter((segment) => segment !== '')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isRecord(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function isNullSchema(node: unknown): boolean {
  if (!isRecord(node)) return false;
  if (typeof node.type === 'string') return node.type.toLowerCase() === 'null';
  return 'const' in node && node.const === null;
}

/**
 * Follows `$ref`s and picks the first non-null `anyOf`/`oneOf` branch, merging `allOf`, so the
 * result describes one concrete value. Sibling keywords of `$ref`/`anyOf` are kept.
 */
export function resolveSchema(node: unknown, root: unknown): SchemaNode {
  let current: SchemaNode = isRecord(node) ? node : {};
  for (let hop = 0; hop < MAX_REF_HOPS; hop += 1) {
    const { $ref: ref, anyOf, oneOf, allOf, ...rest } = current;
    if (typeof ref === 'string') {
      const target = followPointer(root, ref);
      current = { ...rest, ...(isRecord(target) ? target : {}) };
      continue;
    }
    const branches = Array.isArray(anyOf) ? anyOf : Array.isArray(oneOf) ? oneOf : undefined;
    if (branches !== undefined) {
      const chosen = branches.find((branch) => !isNullSchema(branch)) ?? branches[0];
      const { anyOf: _a, oneOf: _o, ...siblings } = current;
      current = { ...siblings, ...(isRecord(chosen) ? chosen : {}) };
      continue;
    }
    if (Array.isArray(allOf)) {
      const { allOf: _all, ...siblings } = current;
      current = allOf.reduce<SchemaNode>((merged, part) => mergeSchemas(merged, resolveSchema(part, root)), siblings);
      continue;
    }
    return current;
  }
  return current;
}

function mergeSchemas(left: SchemaNode, right: SchemaNode): SchemaNode {
  const properties = {
    ...(isRecord(left.properties) ? left.properties : {}),
    ...(isRecord(right.properties) ? right.properties : {}),
  };
  const required = [
    ...(Array.isArray(left.required) ? left.required : []),
    ...(Array.isArray(right.required) ? right.required : []),
  ];
  return { ...left, ...right, properties, required };
}

/** The kind of value a resolved schema asks for: 'const', 'enum', or a lower-case JSON type. */
export function schemaKind(schema: SchemaNode): string | undefined {
  if ('const' in schema) return 'const';
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return 'enum';
  const { type } = schema;
  if (typeof type === 'string') return type.toLowerCase();
  if (Array.isArray(type)) {
    const names = type.filter((name): name is string => typeof name === 'string').map((name) => name.toLowerCase());
    return names.find((name) => name !== 'null') ?? names[0];
  }
  if (isRecord(schema.properties) || Array.isArray(schema.required)) return 'object';
  if (schema.items !== undefined || Array.isArray(schema.prefixItems)) return 'array';
  return undefined;
}

interface Synthesis {
  root: unknown;
  seed: string;
}

/**
 * A deterministic value that conforms to `schema` (JSON Schema, including zod 4's
 * `z.toJSONSchema` output with `$defs`, or Gemini's upper-case `responseSchema` form).
 * The same schema and seed always give the same value. `pattern` is not honoured.
 */
export function synthesizeFromSchema(schema: unknown, seed: string): unknown {
  return synthesize(schema, '$', 0, { root: schema, seed });
}

function synthesize(node: unknown, path: string, depth: number, context: Synthesis): unknown {
  if (node === true || node === undefined) return words(path, context, 2);
  const schema = resolveSchema(node, context.root);
  switch (schemaKind(schema)) {
    case 'const':
      return schema.const;
    case 'enum': {
      const options = (schema.enum as unknown[]).filter((option) => option !== null);
      const pool = options.length > 0 ? options : (schema.enum as unknown[]);
      return pool[seededIndex(pool.length, context.seed, path, 'enum')];
    }
    case 'object':
      return synthesizeObject(schema, path, depth, context);
    case 'array':
      return synthesizeArray(schema, path, depth, context);
    case 'integer':
      return pickNumber(schema, true, seededUnit(context.seed, path, 'number'));
    case 'number':
      return pickNumber(schema, false, seededUnit(context.seed, path, 'number'));
    case 'boolean':
      return seededUnit(context.seed, path, 'boolean') < 0.5;
    case 'null':
      return null;
    default:
      return synthesizeString(schema, path, context);
  }
}

function synthesizeObject(
  schema: SchemaNode,
  path: string,
  depth: number,
  context: Synthesis,
): Record<string, unknown> {
  const properties = isRecord(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required)
    ? schema.required.filter((name): name is string => typeof name === 'string')
    : [];
  const ordering = Array.isArray(schema.propertyOrdering)
    ? schema.propertyOrdering.filter((name): name is string => typeof name === 'string')
    : [];
  const propertyNames = isRecord(schema.propertyNames) ? schema.propertyNames : {};
  // z.record(z.enum([...]), …) lists its keys only in propertyNames.enum.
  const recordKeys = Array.isArray(propertyNames.enum)
    ? propertyNames.enum.filter((name): name is string => typeof name === 'string')
    : [];
  const names = depth >= MAX_DEPTH ? required : [...ordering, ...Object.keys(properties), ...required, ...recordKeys];
  const result: Record<string, unknown> = {};
  for (const name of new Set(names)) {
    const propertySchema = name in properties ? properties[name] : schema.additionalProperties;
    result[name] = synthesize(isRecord(propertySchema) ? propertySchema : true, `${path}.${name}`, depth + 1, context);
  }
  return result;
}

function synthesizeArray(schema: SchemaNode, path: string, depth: number, context: Synthesis): unknown[] {
  const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
  const minItems = toNumber(schema.minItems) ?? 0;
  const maxItems = toNumber(schema.maxItems) ?? Number.POSITIVE_INFINITY;
  const wanted = depth >= MAX_DEPTH ? minItems : Math.max(prefix.length, 2);
  const count = Math.max(minItems, Math.min(maxItems, wanted));
  const itemSchema = schema.items === false ? undefined : schema.items;
  const result: unknown[] = [];
  const seen = new Set<string>();
  for (let index = 0; index < count; index += 1) {
    const element = index < prefix.length ? prefix[index] : itemSchema;
    if (element === undefined && index >= prefix.length && schema.items === false) break;
    let value = synthesize(element, `${path}[${index}]`, depth + 1, context);
    // Prefer distinct elements (uniqueItems); give up after a few salts if the domain is small.
    for (let salt = 1; salt < 8 && seen.has(JSON.stringify(value)); salt += 1) {
      value = synthesize(element, `${path}[${index}]#${salt}`, depth + 1, context);
    }
    seen.add(JSON.stringify(value));
    result.push(value);
  }
  return result;
}

function words(path: string, context: Synthesis, count: number): string {
  const picked: string[] = [];
  for (let index = 0; index < count; index += 1) {
    picked.push(WORDS[seededIndex(WORDS.length, context.seed, path, 'word', index)] ?? 'word');
  }
  return picked.join(' ');
}

function formattedString(format: string, path: string, context: Synthesis): string | undefined {
  const hex = (salt: string, length: number): string =>
    Array.from({ length }, (_, index) => seededIndex(16, context.seed, path, salt, index).toString(16)).join('');
  const day = 1 + seededIndex(28, context.seed, path, 'day');
  const date = `2026-03-${String(day).padStart(2, '0')}`;
  switch (format.toLowerCase()) {
    case 'email':
      return `${words(path, context, 1)}.${words(`${path}@`, context, 1)}@example.com`;
    case 'uri':
    case 'url':
      return `https://example.com/${words(path, context, 1)}`;
    case 'uuid':
      return `${hex('a', 8)}-${hex('b', 4)}-4${hex('c', 3)}-8${hex('d', 3)}-${hex('e', 12)}`;
    case 'date-time':
      return `${date}T12:${String(seededIndex(60, context.seed, path, 'minute')).padStart(2, '0')}:00Z`;
    case 'date':
      return date;
    case 'time':
      return '12:30:00';
    case 'ipv4':
      return `10.0.0.${1 + seededIndex(254, context.seed, path, 'ip')}`;
    case 'hostname':
      return `${words(path, context, 1)}.example.com`;
    default:
      return undefined;
  }
}

function synthesizeString(schema: SchemaNode, path: string, context: Synthesis): string {
  const format = typeof schema.format === 'string' ? formattedString(schema.format, path, context) : undefined;
  if (format !== undefined) return format;
  const minLength = toNumber(schema.minLength) ?? 0;
  const maxLength = toNumber(schema.maxLength) ?? Number.POSITIVE_INFINITY;
  let text = words(path, context, 2 + seededIndex(3, context.seed, path, 'count'));
  for (let extra = 0; text.length < minLength; extra += 1) {
    text += ` ${words(`${path}+${extra}`, context, 1)}`;
  }
  text = text.slice(0, maxLength);
  const trimmed = text.trimEnd();
  return trimmed.length >= minLength ? trimmed : text;
}

interface Bounds {
  low: number | undefined;
  high: number | undefined;
  lowExclusive: boolean;
  highExclusive: boolean;
}

function numericBounds(schema: SchemaNode): Bounds {
  let low = toNumber(schema.minimum);
  let high = toNumber(schema.maximum);
  let lowExclusive = schema.exclusiveMinimum === true; // draft-04 boolean form
  let highExclusive = schema.exclusiveMaximum === true;
  const exclusiveLow = toNumber(schema.exclusiveMinimum);
  if (exclusiveLow !== undefined && (low === undefined || exclusiveLow >= low)) {
    low = exclusiveLow;
    lowExclusive = true;
  }
  const exclusiveHigh = toNumber(schema.exclusiveMaximum);
  if (exclusiveHigh !== undefined && (high === undefined || exclusiveHigh <= high)) {
    high = exclusiveHigh;
    highExclusive = true;
  }
  return { low, high, lowExclusive, highExclusive };
}

/** A friendly number (preferably 1..100) inside the schema's bounds. */
function pickNumber(schema: SchemaNode, integer: boolean, unit: number): number {
  const { low, high, lowExclusive, highExclusive } = numericBounds(schema);
  const lowInt = low === undefined ? undefined : lowExclusive ? Math.floor(low) + 1 : Math.ceil(low);
  const highInt = high === undefined ? undefined : highExclusive ? Math.ceil(high) - 1 : Math.floor(high);
  if (lowInt !== undefined && highInt !== undefined && lowInt > highInt) {
    // No integer fits: only a fraction can (or the schema is unsatisfiable).
    return integer ? lowInt : ((low ?? 0) + (high ?? 0)) / 2;
  }
  let from = Math.max(lowInt ?? Number.NEGATIVE_INFINITY, 1);
  let to = Math.min(highInt ?? Number.POSITIVE_INFINITY, 100);
  if (from > to) {
    if (highInt !== undefined && highInt < 1) {
      to = highInt;
      from = Math.max(lowInt ?? Number.NEGATIVE_INFINITY, highInt - 99);
    } else {
      from = lowInt ?? 1;
      to = Math.min(highInt ?? Number.POSITIVE_INFINITY, from + 99);
    }
  }
  let value = from + Math.floor(unit * (to - from + 1));
  const multipleOf = toNumber(schema.multipleOf);
  if (multipleOf !== undefined && multipleOf > 0) {
    const up = Math.ceil(value / multipleOf) * multipleOf;
    value = highInt === undefined || up <= highInt ? up : Math.floor(value / multipleOf) * multipleOf;
    return value;
  }
  const half = value + 0.5;
  const halfFits = high === undefined || (highExclusive ? half < high : half <= high);
  return !integer && unit < 0.5 && halfFits ? half : value;
}
