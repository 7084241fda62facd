/**
 * The contract between our workflows and everything that talks to them: messages, the states they
 * carry, and the records a batch reports. The client and the CLI import this, never workflows/.
 */
export * from './messages';
export type * from './states';
export type {
  BatchControlState,
  BatchInput,
  BatchProgress,
  BatchStop,
  BatchSummary,
  ItemOutcome,
  ItemResult,
  ItemStatus,
} from '../schemas';
