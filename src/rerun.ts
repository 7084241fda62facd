/** Which items of an ended batch a rerun takes: those whose final record matches the selection. */
import { matchesFilter } from './results';
import type { ItemResult, RerunSelection } from './schemas';

export function selectsRecord(
  selection: Omit<RerunSelection, 'batchId'>,
  record: Pick<ItemResult, 'status' | 'error'>,
): boolean {
  return matchesFilter(record, selection);
}

/** The ids of the selected items, from the origin batch's records. */
export async function selectedItemIds(
  records: AsyncIterable<ItemResult>,
  selection: RerunSelection,
): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const record of records) if (selectsRecord(selection, record)) ids.add(record.itemId);
  return ids;
}

/** The selection in words, for messages: `failed or blocked items (category quota_exhausted) of batch b1`. */
export function describeSelection(selection: RerunSelection): string {
  const categories = selection.categories ? ` (category ${selection.categories.join(' or ')})` : '';
  return `${selection.statuses.join(' or ')} items${categories} of batch "${selection.batchId}"`;
}

/**
 * A batch and its reruns as one result per item: each item's record from the latest batch (reruns
 * given oldest first) that has one, in the origin's order. The reruns' records are held in memory
 * (they are the origin's failures); the origin's are streamed.
 */
export async function* latestRecords(
  origin: AsyncIterable<ItemResult>,
  reruns: ReadonlyArray<AsyncIterable<ItemResult>>,
): AsyncGenerator<ItemResult> {
  const latest = new Map<string, ItemResult>();
  for (const rerun of reruns) for await (const record of rerun) latest.set(record.itemId, record);
  for await (const record of origin) yield latest.get(record.itemId) ?? record;
}
