/** The emulator's stand-in tokenizer: one token per four characters, rounded up. */
export function countTextTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
