import { defineQuery } from '@temporalio/workflow';
import type { BatchProgress } from '../src/schemas';
import type { ItemState } from './item';

/** Live counters of a batch (also answered after it ends). */
export const batchProgressQuery = defineQuery<BatchProgress>('batchProgress');

/** Live retry state of one item. */
export const itemStateQuery = defineQuery<ItemState>('itemState');
