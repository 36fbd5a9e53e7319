import type { DesignEdge, DesignGraph, DesignNode, StepDefinition, ValidationIssue, WorkflowDefinition } from './types';
import { layoutGraph } from './layout';
import { validateGraph, type Catalog } from './validate';

let counter = 0;

/** A fresh designer node id (never a step id: those are edited by the user). */
export function newNodeId(): string {
  counter += 1;
  return `n${Date.now().toString(36)}${counter.toString(36)}`;
}

export function edgeId(source: string, target: string): string {
  return `e-${source}-${target}`;
}

/** Imports a definition: one node per step, an edge from each step to the next, laid out top to bottom. */
export function definitionToGraph(definition: WorkflowDefinition): DesignGraph {
  const { steps, ...meta } = definition;
  const nodes: DesignNode[] = steps.map((step, i) => ({
    id: `s${i}-${step.id}`,
    position: { x: 0, y: 0 },
    step: structuredClone(step),
  }));
  const edges: DesignEdge[] = [];
  for (let i = 0; i + 1 < nodes.length; i++) {
    edges.push({ id: edgeId(nodes[i].id, nodes[i + 1].id), source: nodes[i].id, target: nodes[i + 1].id });
  }
  return layoutGraph({ meta: structuredClone(meta), nodes, edges });
}

/**
 * The steps in run order: from the one step nothing leads to, along the edges. Null when the graph is not one
 * chain (a branch, a cycle, a dangling edge, a step off the chain): validateGraph names why.
 */
export function chainOrder(graph: DesignGraph): DesignNode[] | null {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const next = new Map<string, string>();
  const incoming = new Map<string, number>();
  for (const e of graph.edges) {
    if (!byId.has(e.source) || !byId.has(e.target) || next.has(e.source)) return null;
    next.set(e.source, e.target);
    incoming.set(e.target, (incoming.get(e.target) ?? 0) + 1);
  }
  if ([...incoming.values()].some((c) => c > 1)) return null;
  const starts = graph.nodes.filter((n) => !incoming.has(n.id));
  if (starts.length !== 1) return null;
  const order: DesignNode[] = [];
  const seen = new Set<string>();
  for (let id: string | undefined = starts[0].id; id !== undefined; id = next.get(id)) {
    if (seen.has(id)) return null;
    seen.add(id);
    order.push(byId.get(id)!);
  }
  return order.length === graph.nodes.length ? order : null;
}

function cleanStep(step: StepDefinition): StepDefinition {
  const out: StepDefinition = { id: step.id, activity: step.activity };
  if (step.title !== undefined && step.title !== '') out.title = step.title;
  if (step.inputs !== undefined && Object.keys(step.inputs).length > 0) out.inputs = structuredClone(step.inputs);
  if (step.retry !== undefined) {
    const retry = Object.fromEntries(Object.entries(step.retry).filter(([, v]) => v !== undefined && v !== null));
    if (Object.keys(retry).length > 0) out.retry = retry;
  }
  return out;
}

export type ExportResult = { ok: true; definition: WorkflowDefinition } | { ok: false; issues: ValidationIssue[] };

/** Exports the graph as a definition; refused (with every issue) when the graph is not a valid workflow. */
export function graphToDefinition(graph: DesignGraph, catalog: Catalog): ExportResult {
  const issues = validateGraph(graph, catalog);
  if (issues.length > 0) return { ok: false, issues };
  const order = chainOrder(graph)!;
  const { $schema, id, version, title, description, scope, ...rest } = graph.meta;
  const definition: WorkflowDefinition = {
    ...($schema !== undefined ? { $schema } : {}),
    id,
    version,
    ...(title !== undefined && title !== '' ? { title } : {}),
    ...(description !== undefined && description !== '' ? { description } : {}),
    ...(scope !== undefined ? { scope } : {}),
    ...rest,
    steps: order.map((n) => cleanStep(n.step)),
  };
  return { ok: true, definition };
}

/** Parses a definition file's text (import); throws an Error naming the problem for text that is no definition at all. */
export function parseDefinition(text: string): WorkflowDefinition {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`malformed JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('a definition is a JSON object');
  const d = value as Record<string, unknown>;
  if (!Array.isArray(d.steps)) throw new Error('a definition has a steps array');
  for (const [i, s] of (d.steps as unknown[]).entries()) {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new Error(`steps[${i}] is not an object`);
  }
  return value as WorkflowDefinition;
}
