import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes set on batch and item workflows, so the Web UI can filter
 * e.g. `BatchId = "b1" AND ItemStatus = "failed"`. The dev server registers them at start.
 */
export const BatchIdSearchAttribute = defineSearchAttributeKey('BatchId', SearchAttributeType.KEYWORD);
export const TaskNameSearchAttribute = defineSearchAttributeKey('TaskName', SearchAttributeType.KEYWORD);
export const ItemStatusSearchAttribute = defineSearchAttributeKey('ItemStatus', SearchAttributeType.KEYWORD);
export const ErrorCategorySearchAttribute = defineSearchAttributeKey('ErrorCategory', SearchAttributeType.KEYWORD);
export const StageSearchAttribute = defineSearchAttributeKey('Stage', SearchAttributeType.INT);
/** On a rerun batch: the batch whose items it reruns (`RerunOf = "b1"` lists a batch's reruns). */
export const RerunOfSearchAttribute = defineSearchAttributeKey('RerunOf', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [
  BatchIdSearchAttribute,
  TaskNameSearchAttribute,
  ItemStatusSearchAttribute,
  ErrorCategorySearchAttribute,
  StageSearchAttribute,
  RerunOfSearchAttribute,
];
