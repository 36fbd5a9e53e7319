import type { DesignEdge, DesignGraph, DesignNode, StepDefinition, ValidationIssue, WorkflowDefinition } from './types';
import { layoutGraph } from './layout';
import { validateGraph, type Catalog } from './validate';
import { runOrder } from './order';

export { runOrder };

let counter = 0;

/** A fresh designer node id (never a step id: those are edited by the user). */
export function newNodeId(): string {
  counter += 1;
  return `n${Date.now().toString(36)}${counter.toString(36)}`;
}

export function edgeId(source: string, target: string): string {
  return `e-${source}-${target}`;
}

/**
 * Imports a definition: one node per step, an edge to each step from every step its `after` names (absent: the step
 * before it), laid out top to bottom (parallel branches side by side). The edges are the truth afterwards: the nodes'
 * steps carry no `after`.
 */
export function definitionToGraph(definition: WorkflowDefinition): DesignGraph {
  const { steps, ...meta } = definition;
  const nodes: DesignNode[] = steps.map((step, i) => {
    const { after: _after, ...rest } = structuredClone(step);
    void _after;
    return { id: `s${i}-${step.id}`, position: { x: 0, y: 0 }, step: rest };
  });
  const nodeOf = new Map<string, string>();
  for (const n of nodes) if (!nodeOf.has(n.step.id)) nodeOf.set(n.step.id, n.id);
  const edges: DesignEdge[] = [];
  steps.forEach((step, i) => {
    const before = step.after ?? (i > 0 ? [steps[i - 1].id] : []);
    for (const name of before) {
      const source = nodeOf.get(name) ?? `missing:${name}`;
      edges.push({ id: edgeId(source, nodes[i].id), source, target: nodes[i].id });
    }
  });
  return layoutGraph({ meta: structuredClone(meta), nodes, edges });
}

/** The ids of the steps each node runs after (its incoming edges), in run order. */
export function afterLists(graph: DesignGraph, order: readonly DesignNode[]): Map<string, string[]> {
  const position = new Map(order.map((n, i) => [n.id, i]));
  const stepOf = new Map(graph.nodes.map((n) => [n.id, n.step.id]));
  const result = new Map<string, string[]>(graph.nodes.map((n) => [n.id, []]));
  const sorted = [...graph.edges].sort((a, b) => (position.get(a.source) ?? 0) - (position.get(b.source) ?? 0));
  for (const e of sorted) if (stepOf.has(e.source) && result.has(e.target)) result.get(e.target)!.push(stepOf.get(e.source)!);
  return result;
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
  const order = runOrder(graph)!;
  const after = afterLists(graph, order);
  const { $schema, id, version, title, description, scope, ...rest } = graph.meta;
  const definition: WorkflowDefinition = {
    ...($schema !== undefined ? { $schema } : {}),
    id,
    version,
    ...(title !== undefined && title !== '' ? { title } : {}),
    ...(description !== undefined && description !== '' ? { description } : {}),
    ...(scope !== undefined ? { scope } : {}),
    ...rest,
    // `after` only where it is not the default (the step before; none for the first), so a chain has none.
    steps: order.map((n, i) => {
      const step = cleanStep(n.step);
      const names = after.get(n.id)!;
      const isDefault = i === 0 ? names.length === 0 : names.length === 1 && names[0] === order[i - 1].step.id;
      return isDefault ? step : { ...step, after: names };
    }),
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
