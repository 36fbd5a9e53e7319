import { create } from 'zustand';
import { temporal } from 'zundo';
import { edgeId, newNodeId } from '../model/graph';
import { layoutGraph } from '../model/layout';
import type { DefinitionMeta, DesignGraph, Point, StepDefinition } from '../model/types';

export interface DesignerState extends DesignGraph {
  /** The version the graph was loaded from (the save's baseVersion), or undefined for a new or imported one. */
  baseVersion?: number;
  load: (graph: DesignGraph, baseVersion?: number) => void;
  setMeta: (patch: Partial<DefinitionMeta>) => void;
  /** Adds a step for an activity; returns its node id. The step id is the activity's name, lower case, made unique. */
  addStep: (activity: string, position: Point) => string;
  updateStep: (nodeId: string, step: StepDefinition) => void;
  moveNode: (nodeId: string, position: Point) => void;
  removeNodes: (nodeIds: string[]) => void;
  connect: (source: string, target: string) => void;
  removeEdges: (edgeIds: string[]) => void;
  layout: () => void;
}

const empty: DesignGraph = { meta: { id: 'new-workflow', version: 1, title: '' }, nodes: [], edges: [] };

export function uniqueStepId(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const stem =
    base
      .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^[^a-z]+/, '')
      .slice(0, 56) || 'step';
  if (!used.has(stem)) return stem;
  for (let i = 2; ; i++) if (!used.has(`${stem}-${i}`)) return `${stem}-${i}`;
}

/** What undo/redo tracks: the graph and the definition fields, not the actions. */
type Tracked = Pick<DesignerState, 'meta' | 'nodes' | 'edges' | 'baseVersion'>;

/** A designer store with undo/redo (zundo): store.temporal.getState().undo() / redo() / clear(). */
export function createDesignerStore(initial: DesignGraph = empty) {
  return create<DesignerState>()(
    temporal(
      (set) => ({
        ...structuredClone(initial),
        load: (graph, baseVersion) => set({ ...structuredClone(graph), baseVersion }),
        setMeta: (patch) => set((s) => ({ meta: { ...s.meta, ...patch } })),
        addStep: (activity, position) => {
          const id = newNodeId();
          set((s) => ({
            nodes: [...s.nodes, { id, position, step: { id: uniqueStepId(activity, s.nodes.map((n) => n.step.id)), activity } }],
          }));
          return id;
        },
        updateStep: (nodeId, step) => set((s) => ({ nodes: s.nodes.map((n) => (n.id === nodeId ? { ...n, step: structuredClone(step) } : n)) })),
        moveNode: (nodeId, position) =>
          set((s) => {
            const n = s.nodes.find((x) => x.id === nodeId);
            if (!n || (n.position.x === position.x && n.position.y === position.y)) return s;
            return { nodes: s.nodes.map((x) => (x.id === nodeId ? { ...x, position } : x)) };
          }),
        removeNodes: (ids) =>
          set((s) => {
            const gone = new Set(ids);
            if (!s.nodes.some((n) => gone.has(n.id))) return s;
            return { nodes: s.nodes.filter((n) => !gone.has(n.id)), edges: s.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target)) };
          }),
        connect: (source, target) =>
          set((s) => (s.edges.some((e) => e.source === source && e.target === target) ? s : { edges: [...s.edges, { id: edgeId(source, target), source, target }] })),
        removeEdges: (ids) =>
          set((s) => {
            const gone = new Set(ids);
            return s.edges.some((e) => gone.has(e.id)) ? { edges: s.edges.filter((e) => !gone.has(e.id)) } : s;
          }),
        layout: () => set((s) => layoutGraph({ meta: s.meta, nodes: s.nodes, edges: s.edges })),
      }),
      {
        limit: 200,
        partialize: (s): Tracked => ({ meta: s.meta, nodes: s.nodes, edges: s.edges, baseVersion: s.baseVersion }),
        equality: (a, b) => a.meta === b.meta && a.nodes === b.nodes && a.edges === b.edges && a.baseVersion === b.baseVersion,
      },
    ),
  );
}

export type DesignerStore = ReturnType<typeof createDesignerStore>;
