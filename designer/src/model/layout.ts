import dagre from '@dagrejs/dagre';
import type { DesignGraph } from './types';

export const NODE_WIDTH = 260;
export const NODE_HEIGHT = 72;

/** Automatic layout (dagre, top to bottom): returns a new graph with every node positioned; nothing else changes. */
export function layoutGraph(graph: DesignGraph, direction: 'TB' | 'LR' = 'TB'): DesignGraph {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: direction, nodesep: 40, ranksep: 50, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) g.setNode(n.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  const ids = new Set(graph.nodes.map((n) => n.id));
  for (const e of graph.edges) {
    if (ids.has(e.source) && ids.has(e.target)) g.setEdge(e.source, e.target);
  }
  dagre.layout(g);
  return {
    ...graph,
    nodes: graph.nodes.map((n) => {
      const p = g.node(n.id);
      // dagre gives centres; React Flow positions are top-left corners.
      return { ...n, position: { x: Math.round(p.x - NODE_WIDTH / 2), y: Math.round(p.y - NODE_HEIGHT / 2) } };
    }),
  };
}
