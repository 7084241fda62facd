/** Which items of an ended batch a rerun takes: those whose final record matches the selection. */
import type { ItemResult, RerunSelection } from './schemas';

export function selectsRecord(
  selection: Omit<RerunSelection, 'batchId'>,
  record: Pick<ItemResult, 'status' | 'error'>,
): boolean {
  if (!selection.statuses.includes(record.status)) return false;
  if (!selection.categories) return true;
  return record.error !== undefined && selection.categories.includes(record.error.category);
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
