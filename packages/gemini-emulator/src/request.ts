import { isRecord } from './schema';
import { countTextTokens } from './tokens';
import type { EmulatedRequest } from './types';

/** The parts of a generateContent body the emulator acts on. */
export interface GenerateRequestView {
  promptText: string;
  systemInstructionText: string;
  temperature: number | undefined;
  responseSchema: unknown | undefined;
  cachedContent: string | undefined;
}

/** Text of a Content, a Content[], or a bare string, concatenated. */
export function textOfContents(contents: unknown): string {
  if (typeof contents === 'string') return contents;
  if (Array.isArray(contents)) return contents.map(textOfContents).join('');
  if (!isRecord(contents) || !Array.isArray(contents.parts)) return '';
  return contents.parts
    .map((part: unknown) => (isRecord(part) && typeof part.text === 'string' ? part.text : ''))
    .join('');
}

/** Reads a generateContent body; returns an error message for what Google would reject. */
export function readGenerateRequest(body: unknown): GenerateRequestView | string {
  if (!isRecord(body)) return 'Invalid JSON payload received. Expected an object.';
  const { contents, systemInstruction, generationConfig, cachedContent } = body;
  if (contents === undefined || (Array.isArray(contents) && contents.length === 0)) {
    return '* GenerateContentRequest.contents: contents is not specified\n';
  }
  if (cachedContent !== undefined) {
    if (typeof cachedContent !== 'string') return "Invalid value at 'cached_content': expected a string.";
    if (systemInstruction !== undefined || body.tools !== undefined || body.toolConfig !== undefined) {
      return (
        'CachedContent can not be used with GenerateContent request setting system_instruction, ' +
        'tools or tool_config.\n\nProposed fix: move those values to CachedContent from ' +
        'GenerateContent request.'
      );
    }
  }
  const config = isRecord(generationConfig) ? generationConfig : {};
  return {
    promptText: textOfContents(contents),
    systemInstructionText: textOfContents(systemInstruction),
    temperature: typeof config.temperature === 'number' ? config.temperature : undefined,
    responseSchema: config.responseJsonSchema ?? config.responseSchema,
    cachedContent: typeof cachedContent === 'string' ? cachedContent : undefined,
  };
}

/** Tokens of a generateContent prompt, counted the way `usageMetadata.promptTokenCount` is. */
export function promptTokens(promptText: string, systemInstructionText: string): number {
  return countTextTokens(promptText) + countTextTokens(systemInstructionText);
}

/** What countTokens counts: `contents`, or a whole `generateContentRequest`. */
export function countTokensOf(body: unknown): { text: string; tokens: number } {
  if (!isRecord(body)) return { text: '', tokens: 0 };
  const inner = isRecord(body.generateContentRequest) ? body.generateContentRequest : undefined;
  const text = textOfContents(inner === undefined ? body.contents : inner.contents);
  const system = inner === undefined ? '' : textOfContents(inner.systemInstruction);
  return { text, tokens: promptTokens(text, system) };
}

/** What a responder is shown of a generateContent request. */
export function emulatedRequest(
  view: GenerateRequestView,
  identity: { model: string; itemKey: string | undefined; attempt: number },
  body: unknown,
): EmulatedRequest {
  return {
    ...identity,
    promptText: view.promptText,
    systemInstructionText: view.systemInstructionText,
    temperature: view.temperature,
    responseJsonSchema: view.responseSchema,
    body,
  };
}
