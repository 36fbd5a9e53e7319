import type { ApiDefinitionGraph, ApiProblem } from '../api/types';
import { edgeId, runOrder } from './graph';
import { layoutGraph } from './layout';
import type { DesignEdge, DesignGraph, DesignNode, ValidationIssue } from './types';

/** The object without its null-valued properties (the API writes absent optional fields as null). */
function withoutNulls<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)) as T;
}

/** The API's graph (or a definition file with "edges") as the designer's graph; laid out when positions are missing. */
export function apiGraphToDesign(g: ApiDefinitionGraph): DesignGraph {
  const { steps, edges, version, id, title, description, scope } = withoutNulls(g);
  const nodes: DesignNode[] = steps.map((s, i) => {
    const { position, after: _after, ...step } = withoutNulls(s);
    void _after;
    return { id: `s${i}-${step.id}`, position: position ?? { x: 0, y: 0 }, step: structuredClone(step) };
  });
  const byStep = new Map<string, string>();
  for (const n of nodes) if (!byStep.has(n.step.id)) byStep.set(n.step.id, n.id);
  const designEdges: DesignEdge[] = [];
  if (edges === undefined || edges === null) {
    for (let i = 0; i + 1 < nodes.length; i++) designEdges.push({ id: edgeId(nodes[i].id, nodes[i + 1].id), source: nodes[i].id, target: nodes[i + 1].id });
  } else {
    edges.forEach((e, j) => {
      const source = byStep.get(e.from) ?? `missing:${e.from}`;
      const target = byStep.get(e.to) ?? `missing:${e.to}`;
      designEdges.push({ id: `${edgeId(source, target)}-${j}`, source, target });
    });
  }
  const meta = { id, version: version ?? 1, ...(title !== undefined ? { title } : {}), ...(description !== undefined ? { description } : {}), ...(scope !== undefined ? { scope } : {}) };
  const graph: DesignGraph = { meta, nodes, edges: designEdges };
  return steps.every((s) => s.position) ? graph : layoutGraph(graph);
}

/**
 * The designer's graph as the API's request body (validate/save): steps in run order where there is one, with
 * positions, and the edges by step id. edgeIds[j] is the designer edge sent as edges[j] (to place problems).
 */
export function designToApiGraph(graph: DesignGraph, baseVersion?: number): { body: ApiDefinitionGraph; edgeIds: string[] } {
  const order = runOrder(graph) ?? graph.nodes;
  const stepOf = new Map(graph.nodes.map((n) => [n.id, n.step.id]));
  const sent = graph.edges.filter((e) => stepOf.has(e.source) && stepOf.has(e.target));
  const { $schema: _s, ...meta } = graph.meta;
  void _s;
  const body: ApiDefinitionGraph = {
    ...meta,
    ...(baseVersion !== undefined ? { baseVersion } : {}),
    steps: order.map((n) => ({ ...structuredClone(n.step), position: { ...n.position } })),
    edges: sent.map((e) => ({ from: stepOf.get(e.source)!, to: stepOf.get(e.target)! })),
  };
  return { body, edgeIds: sent.map((e) => e.id) };
}

/** The API's 422 problems placed at the designer's nodes and edges. */
export function apiProblemsToIssues(problems: readonly ApiProblem[], graph: DesignGraph, edgeIds: readonly string[]): ValidationIssue[] {
  const nodeOfStep = new Map<string, string>();
  for (const n of graph.nodes) if (!nodeOfStep.has(n.step.id)) nodeOfStep.set(n.step.id, n.id);
  return problems.map((p) => {
    const edge = p.edge !== undefined && p.edge !== null ? edgeIds[p.edge] : undefined;
    const nodeId = p.node ? nodeOfStep.get(p.node) : edge ? graph.edges.find((e) => e.id === edge)?.source : undefined;
    const field = p.field?.replace(/^steps\[\d+\]\.?/, '') || p.field;
    return { code: 'definition', message: `${p.message} (server: ${p.code})`, nodeId, edgeId: edge, field };
  });
}
