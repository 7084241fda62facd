/**
 * Header through which a caller names the batch item a request belongs to (`<batch id>/<item id>`):
 * the emulator keys its fault schedule and request log by it. durable-batch-llm's model-call
 * activity sends it on every call. A leaf module with no imports, so workflow-safe code may
 * re-export it (`@durable-batch-llm/gemini-emulator/item-header`).
 */
export const ITEM_KEY_HEADER = 'x-batch-llm-item';
