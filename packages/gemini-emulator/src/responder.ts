import { isRecord, resolveSchema, schemaKind, synthesizeFromSchema } from './schema';
import type { SchemaNode } from './schema';
import { seededIndex } from './seeded';
import type { FaultKind } from './faults';
import type { EmulatedRequest, Responder } from './types';

const REPLY_WORDS = ['noted', 'certainly', 'the', 'answer', 'is', 'ready', 'emulated', 'reply'] as const;

/** The seed the default responder derives from a request's prompt. */
export function responseSeed(request: EmulatedRequest): string {
  return `${request.promptText}\u0000${request.systemInstructionText}`;
}

/** JSON synthesized from the request's schema, else a short text; both depend only on the prompt. */
export const defaultResponder: Responder = (request) => {
  const seed = responseSeed(request);
  if (request.responseJsonSchema !== undefined) {
    return JSON.stringify(synthesizeFromSchema(request.responseJsonSchema, seed));
  }
  const words = Array.from({ length: 6 }, (_, index) => REPLY_WORDS[seededIndex(REPLY_WORDS.length, seed, index)]);
  return `Emulated reply: ${words.join(' ')}.`;
};

/** A value of the wrong type for `schema` (or outside its enum). */
function wrongValueFor(schema: SchemaNode): unknown {
  switch (schemaKind(schema)) {
    case 'const':
    case 'enum':
      return '__not_in_enum__';
    case 'number':
    case 'integer':
      return 'not-a-number';
    case 'array':
      return 'not-an-array';
    case 'boolean':
      return 'maybe';
    case 'object':
      return 'not-an-object';
    case 'null':
      return 'not-null';
    default:
      return 12345;
  }
}

/**
 * The text of a `schema_invalid` answer: the normal JSON with exactly one top-level property (the
 * first required one) given a wrong type, so it parses but fails validation.
 */
export function schemaViolatingText(schema: unknown, normalText: string, seed: string): string {
  if (schema === undefined) return JSON.stringify({ unexpected: true });
  const root = resolveSchema(schema, schema);
  let value: unknown;
  try {
    value = JSON.parse(normalText);
  } catch {
    value = synthesizeFromSchema(schema, seed);
  }
  if (schemaKind(root) !== 'object' || !isRecord(value)) return JSON.stringify(wrongValueFor(root));
  const properties = isRecord(root.properties) ? root.properties : {};
  const required = Array.isArray(root.required) ? root.required : [];
  const target = [...required, ...Object.keys(properties), ...Object.keys(value)].find(
    (name): name is string => typeof name === 'string',
  );
  if (target === undefined) return JSON.stringify('not-an-object');
  const propertySchema = resolveSchema(properties[target] ?? root.additionalProperties, schema);
  return JSON.stringify({ ...value, [target]: wrongValueFor(propertySchema) });
}

/** Roughly the first half of `text`, cut so that it never parses as JSON. */
export function truncatedText(text: string): string {
  const cut = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
  try {
    JSON.parse(cut);
    return `${cut},`;
  } catch {
    return cut;
  }
}

/**
 * The candidate text for a request, bent by a `schema_invalid` or `max_tokens` fault.
 * Throws whatever the responder throws.
 */
export async function answerText(
  responder: Responder,
  request: EmulatedRequest,
  fault: FaultKind | undefined,
): Promise<string> {
  const text = await responder(request);
  if (fault === 'schema_invalid') return schemaViolatingText(request.responseJsonSchema, text, responseSeed(request));
  if (fault === 'max_tokens') return truncatedText(text);
  return text;
}
