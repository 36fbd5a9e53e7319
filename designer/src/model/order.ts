import type { DesignGraph, DesignNode } from './types';

/**
 * The steps in an order they can run in: each after the steps its incoming edges come from, otherwise in the order of
 * the nodes (so a chain, or a graph whose nodes are listed runnably, keeps its order). Null when there is none (a cycle, a
 * dangling edge): validateGraph names why.
 */
export function runOrder(graph: DesignGraph): DesignNode[] | null {
  const index = new Map(graph.nodes.map((n, i) => [n.id, i]));
  const next = graph.nodes.map(() => [] as number[]);
  const waiting = graph.nodes.map(() => 0);
  for (const e of graph.edges) {
    const from = index.get(e.source);
    const to = index.get(e.target);
    if (from === undefined || to === undefined) return null;
    next[from].push(to);
    waiting[to]++;
  }
  const ready = graph.nodes.map((_, i) => i).filter((i) => waiting[i] === 0);
  const order: DesignNode[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => a - b);
    const i = ready.shift()!;
    order.push(graph.nodes[i]);
    for (const t of next[i]) if (--waiting[t] === 0) ready.push(t);
  }
  return order.length === graph.nodes.length ? order : null;
}
