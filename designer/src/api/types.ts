import type { RetryPolicy, StepDefinition } from '../model/types';

/** The API's definition graph (docs/api.md, "Definitions as a graph"): nodes = steps, edges = order by step id. */
export interface ApiDefinitionGraph {
  id: string;
  version?: number;
  baseVersion?: number;
  title?: string;
  description?: string;
  scope?: 'server' | 'jailHost';
  steps: (StepDefinition & { position?: { x: number; y: number } })[];
  edges?: { from: string; to: string }[] | null;
  registeredAt?: string;
  instances?: number;
}

export interface ApiDefinitionSummary {
  id: string;
  title?: string;
  scope?: string;
  latestVersion: number;
  versions: { version: number; title?: string; registeredAt?: string; instances?: number }[];
}

export interface ApiProblem {
  code: string;
  field?: string;
  node?: string | null;
  edge?: number | null;
  message: string;
}

/** RFC 9457 problem details with the API's extensions. */
export interface ProblemDetails {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  kind?: string;
  errors?: Record<string, string[]>;
  problems?: ApiProblem[];
}

export type StepState = 'waiting' | 'running' | 'done' | 'failed' | 'awaitingApproval' | 'skipped';
export type InstanceState = 'running' | 'interrupted' | 'incident' | 'awaitingApproval' | 'complete' | 'aborted';

export interface StepView {
  id: string;
  title: string;
  activity: string;
  state: StepState;
  started?: string | null;
  ended?: string | null;
  recovery?: string;
  retry?: RetryPolicy;
  failures?: number;
  /** The steps it runs after (parallel branches: a fork's steps share one, a join names several); empty for the first. */
  after?: string[];
}

export interface Incident {
  id: number;
  step: string;
  activity?: string;
  host?: string;
  error: string;
  outputTail?: string;
  attempts?: number;
  openedAt?: string;
}

export interface Approval {
  step: string;
  files: string[];
  subject: string;
  eventKey?: string;
}

export interface InstanceView {
  id: string;
  definition: string;
  version: number;
  server?: string | null;
  status: string;
  state: InstanceState;
  created: string;
  completed?: string | null;
  jailsDir?: string | null;
  lastError?: string | null;
  lastOutput?: string | null;
  steps: StepView[];
  current?: StepView | null;
  incident?: Incident | null;
  approval?: Approval | null;
}

export type JournalKind =
  | 'stepStarted'
  | 'stepFinished'
  | 'stepFailed'
  | 'jobStarted'
  | 'jobFinished'
  | 'jobOutput'
  | 'info'
  | 'warning'
  | 'error'
  | 'operatorAction'
  | 'progress'
  | 'approvalRequested'
  | 'incident'
  | 'stepSkipped';

export interface JournalEntry {
  id: number;
  instanceId: string;
  timestamp: string;
  step?: string | null;
  kind: JournalKind;
  message: string;
  jobId?: string | null;
  exitStatus?: number | null;
}

export type InstanceAction = 'retry' | 'skip' | 'abort' | 'approve' | 'resume';

/** An open incident that still holds an instance suspended after a decision on another failed branch's incident. */
export interface HoldingIncident {
  incident: number;
  step: string;
}

/** The answer of an action (docs/api.md "Actions"). */
export interface ActionResult {
  instance: string;
  /** retry/skip/resume: the step decided (that of the oldest open incident); approve: the step approved. */
  step?: string | null;
  /** resume: false when the instance was running already (nothing decided). */
  done: boolean;
  detail?: string | null;
  /** retry/skip/resume: whether the instance runs now (null for abort/approve, and from an older server). */
  runnable?: boolean | null;
  /** retry/skip/resume: the incidents that still hold the instance suspended, oldest first. */
  suspendedBy?: HoldingIncident[] | null;
}

/** One file's differences for a merge approval (see api/client.ts approvalDiffs: not in the API yet). */
export interface FileDiff {
  path: string;
  diff: string;
}
