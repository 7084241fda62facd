/** Workflow entry point for the worker's bundle: deterministic code only. */
export { batchWorkflow, itemWorkflowId } from './batch';
export { itemWorkflow } from './item';
export { cacheOwnerWorkflow } from './cache-owner';
export { quotaScopeWorkflow } from './quota-scope';
export { batchProgressQuery, itemStateQuery, cacheStateQuery } from '../src/contract/messages';
