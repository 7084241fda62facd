import assert from 'node:assert/strict';
import { GoogleGenAI } from '@google/genai';
import { GeminiEmulator, type EmulatorOptions } from '../../src';

/** The real `@google/genai` client, pointed at an emulator. */
export function clientFor(
  emulator: GeminiEmulator,
  options: { apiKey?: string; apiVersion?: string } = {},
): GoogleGenAI {
  return new GoogleGenAI({
    apiKey: options.apiKey ?? 'test-key',
    apiVersion: options.apiVersion ?? 'v1beta',
    httpOptions: { baseUrl: emulator.url },
  });
}

/** Runs `run` against a fresh emulator and the real client, and always stops the emulator. */
export async function withEmulator(
  options: EmulatorOptions,
  run: (emulator: GeminiEmulator, ai: GoogleGenAI) => Promise<void>,
): Promise<void> {
  const emulator = await GeminiEmulator.start(options);
  try {
    await run(emulator, clientFor(emulator));
  } finally {
    await emulator.stop();
  }
}

/** The error a call rejects with; fails the test when it resolves. */
export async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return assert.fail('expected the call to fail');
}
