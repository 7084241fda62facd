/**
 * How long a typical answer to an output schema is, without asking a model: a stand-in JSON value
 * of typical size is built from the schema and measured. An assumption for estimates only
 * (`start --dry-run` without `--calibrate`); a real sample measures it instead.
 *
 * Typical sizes: a bounded string is the geometric mean of its bounds (10–200 chars → 45, a
 * sentence; 2–40 → 9, a keyword), an unbounded one 40 chars; an array the middle of its item
 * bounds (3 when unbounded); an enum its median option; every property present.
 */

/** Characters per token: Google's rule of thumb for Gemini, and the emulator's tokenizer. */
export const CHARS_PER_TOKEN = 4;

/** Token count of a text by the rule of thumb (rounded up). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

type Schema = Record<string, unknown>;

const UNBOUNDED_STRING_CHARS = 40;
/** Lower bound assumed for a string with only a maximum length. */
const SHORTEST_STRING_CHARS = 8;
const UNBOUNDED_ARRAY_ITEMS = 3;
/** Beyond this depth, objects are empty and arrays hold nothing (recursive schemas). */
const MAX_DEPTH = 8;

/** A JSON value of typical size for `schema` (JSON Schema, as `outputJsonSchema` gives it). */
export function typicalAnswer(schema: Schema): unknown {
  return typical(schema, schema, 0);
}

/** Estimated tokens of a typical answer: its compact JSON at ~4 characters per token. */
export function typicalAnswerTokens(schema: Schema): number {
  return estimateTokens(JSON.stringify(typicalAnswer(schema)) ?? '');
}

function typical(node: unknown, root: Schema, depth: number): unknown {
  const schema = resolve(node, root);
  if ('const' in schema) return schema['const'];
  if (Array.isArray(schema['enum']) && schema['enum'].length > 0) return medianOption(schema['enum']);
  switch (kindOf(schema)) {
    case 'object': {
      if (depth >= MAX_DEPTH) return {};
      const properties = isSchema(schema['properties']) ? schema['properties'] : {};
      return Object.fromEntries(
        Object.entries(properties).map(([name, property]) => [name, typical(property, root, depth + 1)]),
      );
    }
    case 'array': {
      if (depth >= MAX_DEPTH) return [];
      const count = Math.round(
        middle(numberOf(schema['minItems']), numberOf(schema['maxItems']), UNBOUNDED_ARRAY_ITEMS),
      );
      const item = typical(schema['items'], root, depth + 1);
      return Array.from({ length: count }, () => item);
    }
    case 'string':
      return 'x'.repeat(typicalStringLength(schema));
    case 'integer':
      return 42;
    case 'number':
      return 12.5;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return 'x'.repeat(UNBOUNDED_STRING_CHARS);
  }
}

function typicalStringLength(schema: Schema): number {
  if (schema['format'] === 'date-time') return 24;
  if (schema['format'] === 'date') return 10;
  const min = numberOf(schema['minLength']);
  const max = numberOf(schema['maxLength']);
  if (max !== undefined) {
    const low = Math.min(max, Math.max(min ?? SHORTEST_STRING_CHARS, 1));
    return Math.round(Math.sqrt(low * max));
  }
  return min !== undefined ? min + UNBOUNDED_STRING_CHARS : UNBOUNDED_STRING_CHARS;
}

/** Midway between the bounds, or `fallback` (kept within a lone bound) when one is missing. */
function middle(min: number | undefined, max: number | undefined, fallback: number): number {
  if (min !== undefined && max !== undefined) return (min + max) / 2;
  if (min !== undefined) return Math.max(min, fallback);
  if (max !== undefined) return Math.min(max, fallback);
  return fallback;
}

function medianOption(options: unknown[]): unknown {
  const byLength = [...options].sort((a, b) => JSON.stringify(a).length - JSON.stringify(b).length);
  return byLength[Math.floor(byLength.length / 2)];
}

function kindOf(schema: Schema): string | undefined {
  const type = schema['type'];
  if (typeof type === 'string') return type.toLowerCase();
  if (Array.isArray(type)) {
    const names = type.filter((name): name is string => typeof name === 'string').map((name) => name.toLowerCase());
    return names.find((name) => name !== 'null') ?? names[0];
  }
  if (isSchema(schema['properties'])) return 'object';
  if (schema['items'] !== undefined) return 'array';
  return undefined;
}

/** Follows `$ref`s (local ones) and takes the first non-null branch of `anyOf`/`oneOf`, merging `allOf`. */
function resolve(node: unknown, root: Schema): Schema {
  let current: Schema = isSchema(node) ? node : {};
  for (let hop = 0; hop < 32; hop += 1) {
    const { $ref: ref, anyOf, oneOf, allOf, ...rest } = current;
    if (typeof ref === 'string' && ref.startsWith('#')) {
      current = { ...rest, ...pointer(root, ref) };
      continue;
    }
    const branches = Array.isArray(anyOf) ? anyOf : Array.isArray(oneOf) ? oneOf : undefined;
    if (branches) {
      const chosen: unknown =
        branches.find((branch) => !(isSchema(branch) && branch['type'] === 'null')) ?? branches[0];
      current = { ...rest, ...(isSchema(chosen) ? chosen : {}) };
      continue;
    }
    if (Array.isArray(allOf)) {
      current = allOf.reduce<Schema>((merged, part) => {
        const resolved = resolve(part, root);
        const properties = { ...(merged['properties'] as Schema), ...(resolved['properties'] as Schema) };
        return { ...merged, ...resolved, properties };
      }, rest);
      continue;
    }
    return current;
  }
  return current;
}

function pointer(root: Schema, ref: string): Schema {
  let node: unknown = root;
  for (const segment of ref.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(segment).replace(/~1/g, '/').replace(/~0/g, '~');
    node = isSchema(node) ? node[key] : undefined;
  }
  return isSchema(node) ? node : {};
}

function numberOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
