/**
 * `durable-batch-llm/task`: what a task module needs, and nothing heavier (the CLI loads task
 * modules to check input, so this entry stays free of the worker and the Temporal client).
 */
export { defineTask, type PostProcessDecision, type PostProcessInput, type TaskDefinition } from './task';
export { makeErrorInfo, type ErrorInfo } from '../errors/classify';
export type { ErrorClassifier } from '../errors/classifier';
export type { ErrorCategory } from '../errors/categories';
export { DEFAULT_STAGE_PLAN } from '../stages';
export type { GenerationSettings, Stage, StagePlan } from '../schemas';
