/** A workflow definition as stored in workflows/*.json (see workflows/schema/workflow-definition.schema.json). */
export interface RetryPolicy {
  maxAttempts?: number;
  backoffSeconds?: number;
  maxBackoffSeconds?: number;
}

export interface StepDefinition {
  id: string;
  activity: string;
  title?: string;
  /** The steps it runs after; absent: the step before it (none for the first). In the designer the edges say this. */
  after?: string[];
  inputs?: Record<string, unknown>;
  retry?: RetryPolicy;
}

export interface WorkflowDefinition {
  $schema?: string;
  id: string;
  version: number;
  title?: string;
  description?: string;
  scope?: 'server' | 'jailHost';
  steps: StepDefinition[];
}

/** The definition's fields other than its steps. */
export type DefinitionMeta = Omit<WorkflowDefinition, 'steps'>;

/** A JSON Schema object (the activity input schemas are 2020-12, plain keywords only). */
export type JsonSchema = Record<string, unknown>;

/** One activity of the server's catalog (ActivityCatalog.cs). */
export interface ActivityInfo {
  name: string;
  description: string;
  recovery: 'rerun' | 'probeFirst' | 'askOperator' | string;
  inputSchema: JsonSchema;
  /** The activity's default retry policy. */
  retry?: RetryPolicy;
  produces?: string[];
  needs?: string[];
}

export interface Point {
  x: number;
  y: number;
}

/** A step on the canvas. The node id is the designer's own and stays when the step id is edited. */
export interface DesignNode {
  id: string;
  position: Point;
  step: StepDefinition;
}

/** "target runs after source" (a node with several outgoing edges forks; one with several incoming edges joins). */
export interface DesignEdge {
  id: string;
  source: string;
  target: string;
}

/** What the designer edits: the definition's fields plus the graph of its steps. */
export interface DesignGraph {
  meta: DefinitionMeta;
  nodes: DesignNode[];
  edges: DesignEdge[];
}

export type IssueCode =
  | 'empty'
  | 'definition'
  | 'dangling-edge'
  | 'cycle'
  | 'join'
  | 'unjoined-branch'
  | 'disconnected'
  | 'unknown-activity'
  | 'step-id'
  | 'duplicate-step-id'
  | 'input'
  | 'missing-input'
  | 'retry';

/** One reason a workflow cannot be saved; nodeId/edgeId say where the designer shows it. */
export interface ValidationIssue {
  code: IssueCode;
  message: string;
  nodeId?: string;
  edgeId?: string;
  /** The field in the step (e.g. inputs.start) or the definition (e.g. id). */
  field?: string;
}
