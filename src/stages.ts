/**
 * The item's stage plan: which prompt, temperature and model each validation-recovery stage uses.
 * Pure data, validated at the workflow boundary; per task or per batch.
 */
import type { StagePlan } from './schemas';

export type { Stage, StagePlan } from './schemas';

/** Full at 0.0, partial at 0.0, full at 0.25, partial at 0.25. */
export const DEFAULT_STAGE_PLAN: StagePlan = [
  { mode: 'full', temperature: 0 },
  { mode: 'partial', temperature: 0 },
  { mode: 'full', temperature: 0.25 },
  { mode: 'partial', temperature: 0.25 },
];

/** What survives a validation failure: fields that validated, and the ones to ask for again. */
export interface PartialState {
  kept: Record<string, unknown>;
  failedFields: string[];
  /** Each failed field's previous (invalid) value, shown to the model. */
  previous: Record<string, unknown>;
  issues: Array<{ path: string; message: string }>;
}
