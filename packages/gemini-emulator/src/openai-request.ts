import { contextLengthExceeded, invalidRequest, jsonSchemaUnsupported } from './openai-errors';
import type { OpenAIErrorAnswer } from './openai-errors';
import type { OpenAISettings } from './openai-settings';
import { promptTokens } from './request';
import { isRecord } from './schema';

export type ResponseFormatKind = 'json_schema' | 'json_object' | 'text';

/** The parts of a chat-completions body the emulator acts on. */
export interface ChatRequestView {
  model: string;
  /** The user (and earlier assistant) messages' text, joined by newlines. */
  promptText: string;
  /** The system and developer messages' text, joined by newlines. */
  systemInstructionText: string;
  /** Every message as `role: text`, in order: what automatic prompt caching keys on. */
  transcript: string;
  temperature: number | undefined;
  /** `max_completion_tokens`, else `max_tokens`. */
  maxTokens: number | undefined;
  responseFormat: ResponseFormatKind;
  /** The json_schema's schema; for json_object, a JSON schema found in the prompt. */
  responseSchema: unknown | undefined;
  /** What OpenAI refuses in a request it could read: a schema strict mode cannot take, json_object without "json". */
  invalid?: OpenAIErrorAnswer;
}

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'];
const SCHEMA_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const JSON_TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean']);

/** A message's `content`: a string, or text parts. */
function textOfContent(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part: unknown) => (isRecord(part) && typeof part.text === 'string' ? part.text : '')).join('');
}

function optionalNumber(
  body: Record<string, unknown>,
  name: string,
  bounds: { min: number; max?: number; integer?: boolean },
): number | OpenAIErrorAnswer | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || (bounds.integer === true && !Number.isInteger(value))) {
    return invalidRequest(
      `Invalid type for '${name}': expected ${bounds.integer === true ? 'an integer' : 'a number'}, but got ${JSON.stringify(value)} instead.`,
      name,
      'invalid_type',
    );
  }
  if (value < bounds.min) {
    return invalidRequest(
      `Invalid '${name}': value below minimum. Expected a value >= ${bounds.min}, but got ${value} instead.`,
      name,
      'below_min_value',
    );
  }
  if (bounds.max !== undefined && value > bounds.max) {
    return invalidRequest(
      `Invalid '${name}': value above maximum. Expected a value <= ${bounds.max}, but got ${value} instead.`,
      name,
      'above_max_value',
    );
  }
  return value;
}

function isErrorAnswer(value: unknown): value is OpenAIErrorAnswer {
  return isRecord(value) && 'httpStatus' in value;
}

/** Reads `response_format`: its kind and, for json_schema, the schema (refused as OpenAI refuses a malformed one). */
function readResponseFormat(
  format: unknown,
): { kind: ResponseFormatKind; schema?: unknown; strict?: boolean; name?: string } | OpenAIErrorAnswer {
  if (format === undefined || format === null) return { kind: 'text' };
  if (!isRecord(format))
    return invalidRequest("Invalid type for 'response_format': expected an object.", 'response_format');
  const { type } = format;
  if (type === 'text' || type === 'json_object') return { kind: type };
  if (type !== 'json_schema') {
    return invalidRequest(
      `Invalid value: '${String(type)}'. Supported values are: 'json_object', 'json_schema', and 'text'.`,
      'response_format.type',
      'invalid_value',
    );
  }
  const spec = format.json_schema;
  if (!isRecord(spec)) {
    return invalidRequest(
      "Missing required parameter: 'response_format.json_schema'.",
      'response_format.json_schema',
      'missing_required_parameter',
    );
  }
  if (typeof spec.name !== 'string' || !SCHEMA_NAME.test(spec.name)) {
    return invalidRequest(
      "Invalid 'response_format.json_schema.name': string must be 1-64 letters, digits, underscores or dashes.",
      'response_format.json_schema.name',
      'invalid_value',
    );
  }
  return { kind: 'json_schema', schema: spec.schema ?? {}, strict: spec.strict === true, name: spec.name };
}

/** Reads a chat-completions body; returns the 400 OpenAI would send for what it refuses. */
export function readChatRequest(body: unknown): ChatRequestView | OpenAIErrorAnswer {
  if (!isRecord(body)) {
    return invalidRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP " +
        'library correctly. The OpenAI API expects a JSON payload.)',
    );
  }
  if (typeof body.model !== 'string' || body.model === '') return invalidRequest('you must provide a model parameter');
  const { messages } = body;
  if (!Array.isArray(messages)) {
    return invalidRequest("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  }
  if (messages.length === 0) return invalidRequest("[] is too short - 'messages'", 'messages', 'empty_array');
  if (body.stream === true) {
    return invalidRequest(
      'The emulator does not stream chat completions: send stream: false.',
      'stream',
      'unsupported_value',
    );
  }
  const system: string[] = [];
  const prompt: string[] = [];
  const transcript: string[] = [];
  for (const [index, message] of messages.entries()) {
    const role = isRecord(message) ? message.role : undefined;
    if (typeof role !== 'string' || !ROLES.includes(role)) {
      return invalidRequest(
        `Invalid value: '${String(role)}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        `messages[${index}].role`,
        'invalid_value',
      );
    }
    const text = textOfContent(isRecord(message) ? message.content : undefined);
    (role === 'system' || role === 'developer' ? system : prompt).push(text);
    transcript.push(`${role}: ${text}`);
  }
  const temperature = optionalNumber(body, 'temperature', { min: 0, max: 2 });
  const topP = optionalNumber(body, 'top_p', { min: 0, max: 1 });
  const maxCompletion = optionalNumber(body, 'max_completion_tokens', { min: 1, integer: true });
  const maxTokens = optionalNumber(body, 'max_tokens', { min: 1, integer: true });
  const seed = optionalNumber(body, 'seed', { min: Number.MIN_SAFE_INTEGER, integer: true });
  for (const value of [temperature, topP, maxCompletion, maxTokens, seed]) if (isErrorAnswer(value)) return value;
  const format = readResponseFormat(body.response_format);
  if (isErrorAnswer(format)) return format;
  const systemInstructionText = system.join('\n');
  const promptText = prompt.join('\n');
  const view: ChatRequestView = {
    model: body.model,
    promptText,
    systemInstructionText,
    transcript: transcript.join('\n'),
    temperature: temperature as number | undefined,
    maxTokens: (maxCompletion ?? maxTokens) as number | undefined,
    responseFormat: format.kind,
    responseSchema: format.kind === 'json_object' ? schemaInText(systemInstructionText, promptText) : format.schema,
  };
  const problem =
    format.kind === 'json_schema' && format.strict === true ? strictSchemaProblem(format.schema, []) : undefined;
  if (problem !== undefined) {
    view.invalid = invalidRequest(
      `Invalid schema for response_format '${format.name ?? ''}': ${problem}`,
      'response_format',
      'invalid_json_schema',
    );
  } else if (format.kind === 'json_object' && !/json/i.test(`${systemInstructionText}\n${promptText}`)) {
    view.invalid = invalidRequest(
      "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
      'messages',
    );
  }
  return view;
}

/**
 * Why the endpoint refuses a request it could read: the request's own problem, else what its
 * settings refuse (json_schema itself, a prompt beyond the context window).
 */
export function refusalOf(view: ChatRequestView, settings: OpenAISettings): OpenAIErrorAnswer | undefined {
  // An endpoint without json_schema refuses the type before it would look at the schema.
  if (settings.rejectJsonSchema === true && view.responseFormat === 'json_schema') return jsonSchemaUnsupported();
  if (view.invalid !== undefined) return view.invalid;
  const window = settings.contextWindowTokens;
  const tokens = promptTokens(view.promptText, view.systemInstructionText);
  if (window !== undefined && tokens + (view.maxTokens ?? 0) > window) {
    return contextLengthExceeded(window, tokens, view.maxTokens);
  }
  return undefined;
}

/** `('properties', 'address')`: how OpenAI names a place in a schema (a Python tuple). */
function contextOf(path: readonly string[]): string {
  const quoted = path.map((segment) => `'${segment}'`);
  return `In context=(${quoted.join(', ')}${quoted.length === 1 ? ',' : ''})`;
}

/**
 * Why strict structured outputs would refuse `schema`, in OpenAI's words, or undefined. Checks what
 * a client must convert: an object root, and `additionalProperties: false` plus every property
 * required on each object. Keywords OpenAI does not support are not checked.
 */
export function strictSchemaProblem(schema: unknown, path: readonly string[]): string | undefined {
  if (!isRecord(schema)) return `${contextOf(path)}, schema must be an object.`;
  if (path.length === 0 && schema.type !== 'object') {
    return `schema must be a JSON Schema of 'type: "object"', got 'type: "${String(schema.type)}"'.`;
  }
  const properties = isRecord(schema.properties) ? schema.properties : undefined;
  if (schema.type === 'object' || properties !== undefined) {
    if (schema.additionalProperties !== false) {
      return `${contextOf(path)}, 'additionalProperties' is required to be supplied and to be false.`;
    }
    const required = Array.isArray(schema.required) ? schema.required : [];
    const missing = Object.keys(properties ?? {}).find((key) => !required.includes(key));
    if (missing !== undefined) {
      return `${contextOf(path)}, 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'.`;
    }
  }
  const children: Array<[unknown, string[]]> = [];
  for (const [key, child] of Object.entries(properties ?? {})) children.push([child, [...path, 'properties', key]]);
  if (isRecord(schema.items)) children.push([schema.items, [...path, 'items']]);
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    const branches = schema[keyword];
    if (Array.isArray(branches))
      branches.forEach((branch, index) => children.push([branch, [...path, keyword, String(index)]]));
  }
  for (const keyword of ['$defs', 'definitions'] as const) {
    const definitions = schema[keyword];
    if (isRecord(definitions)) {
      for (const [key, child] of Object.entries(definitions)) children.push([child, [...path, keyword, key]]);
    }
  }
  for (const [child, childPath] of children) {
    const problem = strictSchemaProblem(child, childPath);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function looksLikeSchema(value: unknown): boolean {
  if (!isRecord(value)) return false;
  return (
    isRecord(value.properties) ||
    (typeof value.type === 'string' && JSON_TYPES.has(value.type)) ||
    Array.isArray(value.anyOf)
  );
}

/** Index of the `}` closing the object that opens at `start`, skipping braces inside strings. */
function closingBrace(text: string, start: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let index = start; index < text.length; index += 1) {
    const char = text[index];
    if (inString) {
      if (char === '\\') index += 1;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{') depth += 1;
    else if (char === '}') {
      depth -= 1;
      if (depth === 0) return index;
    }
  }
  return undefined;
}

/** The first JSON object in the texts that looks like a JSON schema (how a json_object prompt carries one). */
export function schemaInText(...texts: string[]): unknown | undefined {
  for (const text of texts) {
    let start = text.indexOf('{');
    while (start >= 0) {
      const end = closingBrace(text, start);
      if (end === undefined) {
        start = text.indexOf('{', start + 1);
        continue;
      }
      try {
        const parsed: unknown = JSON.parse(text.slice(start, end + 1));
        if (looksLikeSchema(parsed)) return parsed;
        start = text.indexOf('{', end + 1);
      } catch {
        start = text.indexOf('{', start + 1);
      }
    }
  }
  return undefined;
}
