import type { BatchRoute } from './faults';

/** `models/{model}:{method}`, the generate-style routes. */
export const MODEL_ROUTE = /^\/(?:v1beta|v1)\/models\/([^/:]+):([A-Za-z]+)$/;
/** `[upload/]v1beta/{batches|files}[/{id}[:{action}]]`. */
const BATCH_PATH = /^\/(upload\/)?(?:v1beta|v1)\/(batches|files)(?:\/([^/:]+)(?::([A-Za-z]+))?)?$/;

/**
 * One request on a Batch Mode or Files API path. `route` is the faultable route it is, or `other`
 * for the rest (file get and delete, the upload's data steps, and paths no route serves).
 */
export type BatchCall =
  | { route: 'batchCreate'; model: string }
  | { route: 'batchList' }
  | { route: 'batchGet' | 'batchCancel' | 'batchDelete'; name: string }
  | { route: 'fileUpload' }
  | { route: 'fileDownload'; name: string }
  | { route: 'other'; step: 'fileGet' | 'fileDelete'; name: string }
  | { route: 'other'; step: 'uploadChunk'; uploadId: string; finalize: boolean }
  | { route: 'other'; step: 'unknown' };

/** Every route a `BatchCall` names, faultable or not. */
export type BatchCallRoute = BatchRoute | 'other';

/**
 * The batch or file call `method path` addresses (the upload steps told apart by their
 * `X-Goog-Upload-Command`), or undefined when the path is none of theirs.
 */
export function batchCallOf(method: string, url: URL, uploadCommand: string): BatchCall | undefined {
  const path = url.pathname.replace(/\/{2,}/g, '/');
  const model = MODEL_ROUTE.exec(path);
  if (model !== null) {
    if (model[2] !== 'batchGenerateContent') return undefined;
    return method === 'POST' ? { route: 'batchCreate', model: model[1] ?? '' } : { route: 'other', step: 'unknown' };
  }
  const match = BATCH_PATH.exec(path);
  if (match === null) return undefined;
  const [, upload, collection, id, action] = match;
  const name = `${collection}/${id ?? ''}`;
  if (upload !== undefined) {
    if (collection !== 'files' || id !== undefined || method !== 'POST') return { route: 'other', step: 'unknown' };
    if (uploadCommand.includes('start')) return { route: 'fileUpload' };
    const uploadId = url.searchParams.get('upload_id') ?? '';
    return { route: 'other', step: 'uploadChunk', uploadId, finalize: uploadCommand.includes('finalize') };
  }
  if (collection === 'batches') {
    if (id === undefined) return method === 'GET' ? { route: 'batchList' } : { route: 'other', step: 'unknown' };
    if (action === 'cancel' && method === 'POST') return { route: 'batchCancel', name };
    if (action === undefined && method === 'GET') return { route: 'batchGet', name };
    if (action === undefined && method === 'DELETE') return { route: 'batchDelete', name };
    return { route: 'other', step: 'unknown' };
  }
  if (id === undefined) return { route: 'other', step: 'unknown' };
  if (action === 'download' && method === 'GET') return { route: 'fileDownload', name };
  if (action === undefined && method === 'GET') return { route: 'other', step: 'fileGet', name };
  if (action === undefined && method === 'DELETE') return { route: 'other', step: 'fileDelete', name };
  return { route: 'other', step: 'unknown' };
}
