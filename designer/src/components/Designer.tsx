import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  Background,
  Controls,
  ReactFlow,
  ReactFlowProvider,
  applyNodeChanges,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type NodeChange,
} from '@xyflow/react';
import { useStore } from 'zustand';
import { ApiError, type ApiClient } from '../api/client';
import type { ApiDefinitionSummary } from '../api/types';
import { apiGraphToDesign, apiProblemsToIssues, designToApiGraph } from '../model/apiGraph';
import { definitionToGraph, graphToDefinition, parseDefinition } from '../model/graph';
import type { ActivityInfo, ValidationIssue } from '../model/types';
import { catalogOf, issuesByNode, validateGraph } from '../model/validate';
import { createDesignerStore, type DesignerStore } from '../store/designer';
import { PropertyPanel } from './PropertyPanel';
import { DesignStepNode, type DesignFlowNode } from './StepNode';

const nodeTypes = { design: DesignStepNode };

/** The designer: palette, canvas, property panel, toolbar (undo, redo, layout, import, export, save as a new version). */
export function Designer({ api }: { api: ApiClient }) {
  const [store] = useState(() => createDesignerStore());
  const [activities, setActivities] = useState<ActivityInfo[] | null>(null);
  const [definitions, setDefinitions] = useState<ApiDefinitionSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.activities().then(setActivities, (e) => setError(`catalog: ${(e as Error).message}`));
    api.definitions().then(setDefinitions, (e) => setError(`definitions: ${(e as Error).message}`));
  }, [api]);
  if (!activities) return <div className="loading">{error ?? 'Loading the activity catalog…'}</div>;
  return (
    <ReactFlowProvider>
      <DesignerInner api={api} store={store} activities={activities} definitions={definitions} setDefinitions={setDefinitions} />
    </ReactFlowProvider>
  );
}

function DesignerInner({
  api,
  store,
  activities,
  definitions,
  setDefinitions,
}: {
  api: ApiClient;
  store: DesignerStore;
  activities: ActivityInfo[];
  definitions: ApiDefinitionSummary[];
  setDefinitions: (d: ApiDefinitionSummary[]) => void;
}) {
  const catalog = useMemo(() => catalogOf(activities), [activities]);
  const state = useStore(store);
  const past = useStore(store.temporal, (s) => s.pastStates.length);
  const future = useStore(store.temporal, (s) => s.futureStates.length);
  const { undo, redo, clear } = store.temporal.getState();
  const [selected, setSelected] = useState<string | null>(null);
  const [serverIssues, setServerIssues] = useState<ValidationIssue[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const flow = useReactFlow();
  const fileInput = useRef<HTMLInputElement>(null);

  const graph = useMemo(() => ({ meta: state.meta, nodes: state.nodes, edges: state.edges }), [state.meta, state.nodes, state.edges]);
  const issues = useMemo(() => validateGraph(graph, catalog), [graph, catalog]);
  // The server's answer to the last save stays until the graph changes.
  useEffect(() => setServerIssues([]), [graph]);
  const allIssues = useMemo(() => [...issues, ...serverIssues], [issues, serverIssues]);
  const byNode = useMemo(() => issuesByNode(allIssues), [allIssues]);

  // React Flow's nodes: from the store, with local positions while dragging (a drag is one undo step, at its end).
  const [flowNodes, setFlowNodes] = useState<DesignFlowNode[]>([]);
  useEffect(() => {
    setFlowNodes(
      state.nodes.map((n) => ({
        id: n.id,
        type: 'design',
        position: n.position,
        selected: n.id === selected,
        data: { step: n.step, issues: byNode.get(n.id) ?? [] },
      })),
    );
  }, [state.nodes, byNode, selected]);
  const badEdges = useMemo(() => new Set(allIssues.filter((i) => i.edgeId).map((i) => i.edgeId!)), [allIssues]);
  const [selectedEdges, setSelectedEdges] = useState<ReadonlySet<string>>(new Set());
  const flowEdges: Edge[] = useMemo(
    () =>
      state.edges.map((e) => ({
        id: e.id,
        source: e.source,
        target: e.target,
        selected: selectedEdges.has(e.id),
        className: badEdges.has(e.id) ? 'invalid' : undefined,
      })),
    [state.edges, badEdges, selectedEdges],
  );

  const onNodesChange = useCallback(
    (changes: NodeChange<DesignFlowNode>[]) => {
      setFlowNodes((nds) => applyNodeChanges(changes, nds));
      for (const c of changes) {
        if (c.type === 'position' && c.dragging === false && c.position) store.getState().moveNode(c.id, c.position);
        if (c.type === 'select') setSelected((s) => (c.selected ? c.id : s === c.id ? null : s));
      }
      const removed = changes.filter((c) => c.type === 'remove').map((c) => c.id);
      if (removed.length) store.getState().removeNodes(removed);
    },
    [store],
  );
  const onNodeDragStop = useCallback((_: unknown, node: DesignFlowNode) => store.getState().moveNode(node.id, node.position), [store]);
  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      setSelectedEdges((old) => {
        const next = new Set(old);
        for (const c of changes) if (c.type === 'select') (c.selected ? next.add(c.id) : next.delete(c.id));
        return next;
      });
      const removed = changes.filter((c) => c.type === 'remove').map((c) => c.id);
      if (removed.length) store.getState().removeEdges(removed);
    },
    [store],
  );
  const onConnect = useCallback((c: Connection) => store.getState().connect(c.source, c.target), [store]);

  const addActivity = (name: string, position?: { x: number; y: number }) => {
    const last = store.getState().nodes.at(-1);
    const id = store.getState().addStep(name, position ?? { x: last?.position.x ?? 0, y: (last?.position.y ?? -110) + 110 });
    // Added after the last step of the chain, so a click-built workflow is a chain already.
    if (!position && last) store.getState().connect(last.id, id);
    setSelected(id);
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || (e.target as HTMLElement).closest('input, textarea, select')) return;
      if (e.key === 'z' && !e.shiftKey) (e.preventDefault(), undo());
      else if (e.key === 'y' || (e.key === 'z' && e.shiftKey)) (e.preventDefault(), redo());
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [undo, redo]);

  const open = async (id: string) => {
    try {
      const g = await api.definition(id);
      store.getState().load(apiGraphToDesign(g), g.version);
      clear();
      setSelected(null);
      setMessage(`Loaded ${g.id} version ${g.version}`);
      setTimeout(() => flow.fitView({ maxZoom: 1 }), 0);
    } catch (e) {
      setMessage(`Could not load ${id}: ${(e as Error).message}`);
    }
  };

  const importFile = async (file: File) => {
    try {
      const text = await file.text();
      const parsed = parseDefinition(text) as ReturnType<typeof parseDefinition> & { edges?: { from: string; to: string }[] };
      store.getState().load(parsed.edges ? apiGraphToDesign(parsed) : definitionToGraph(parsed), undefined);
      setSelected(null);
      setMessage(`Imported ${file.name}`);
      setTimeout(() => flow.fitView({ maxZoom: 1 }), 0);
    } catch (e) {
      setMessage(`Import of ${file.name} refused: ${(e as Error).message}`);
    }
  };

  const exportJson = () => {
    const out = graphToDefinition(graph, catalog);
    if (!out.ok) return;
    const blob = new Blob([JSON.stringify({ $schema: 'schema/workflow-definition.schema.json', ...out.definition }, null, 2) + '\n'], { type: 'application/json' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${out.definition.id}.json`;
    a.click();
    URL.revokeObjectURL(a.href);
  };

  const save = async () => {
    if (issues.length > 0) return;
    const { body, edgeIds } = designToApiGraph(graph, state.baseVersion);
    try {
      const saved = await api.saveDefinition(body);
      store.getState().setMeta({ version: saved.version ?? state.meta.version });
      store.setState({ baseVersion: saved.version });
      setMessage(`Saved ${saved.id} as version ${saved.version}`);
      api.definitions().then(setDefinitions, () => undefined);
    } catch (e) {
      if (e instanceof ApiError && e.problem.problems) {
        setServerIssues(apiProblemsToIssues(e.problem.problems, graph, edgeIds));
        setMessage(`The server refused the definition: ${e.problem.problems.length} problem(s), shown at the steps`);
      } else if (e instanceof ApiError && e.status === 409) {
        setMessage(`Not saved: ${e.message} (someone saved a newer version; load it first)`);
      } else {
        setMessage(`Not saved: ${(e as Error).message}`);
      }
    }
  };

  const selectedNode = state.nodes.find((n) => n.id === selected) ?? null;
  const generalIssues = allIssues.filter((i) => !i.nodeId);

  return (
    <div className="designer">
      <div className="toolbar">
        <select data-testid="definition-select" value="" onChange={(e) => e.target.value && open(e.target.value)}>
          <option value="">Open definition…</option>
          {definitions.map((d) => (
            <option key={d.id} value={d.id}>
              {d.id} (v{d.latestVersion})
            </option>
          ))}
        </select>
        <button data-testid="new-button" onClick={() => (store.getState().load({ meta: { id: 'new-workflow', version: 1 }, nodes: [], edges: [] }), clear(), setSelected(null))}>
          New
        </button>
        <button data-testid="undo-button" disabled={past === 0} onClick={() => undo()} title="Ctrl+Z">
          Undo
        </button>
        <button data-testid="redo-button" disabled={future === 0} onClick={() => redo()} title="Ctrl+Y">
          Redo
        </button>
        <button data-testid="layout-button" onClick={() => (store.getState().layout(), setTimeout(() => flow.fitView({ maxZoom: 1 }), 0))}>
          Layout
        </button>
        <button data-testid="import-button" onClick={() => fileInput.current?.click()}>
          Import JSON
        </button>
        <input
          ref={fileInput}
          data-testid="import-input"
          type="file"
          accept="application/json,.json"
          hidden
          onChange={(e) => {
            const f = e.target.files?.[0];
            if (f) importFile(f);
            e.target.value = '';
          }}
        />
        <button data-testid="export-button" disabled={issues.length > 0} onClick={exportJson} title={issues.length ? 'Fix the problems first' : 'Download the definition JSON'}>
          Export JSON
        </button>
        <button data-testid="save-button" className="primary" disabled={issues.length > 0} onClick={save} title={issues.length ? 'Invalid workflows cannot be saved' : 'Save as a new version'}>
          Save as new version
        </button>
        <span className={`validity ${allIssues.length ? 'bad' : 'good'}`} data-testid="validity">
          {allIssues.length ? `${allIssues.length} problem(s)` : 'valid'}
        </span>
        {message && (
          <span className="message" data-testid="designer-message">
            {message}
          </span>
        )}
      </div>
      <div className="designer-body">
        <aside className="palette" data-testid="palette">
          <h3>Activities</h3>
          {activities.map((a) => (
            <div
              key={a.name}
              className="palette-item"
              data-testid={`palette-${a.name}`}
              draggable
              onDragStart={(e) => e.dataTransfer.setData('application/x-jailwf-activity', a.name)}
              onDoubleClick={() => addActivity(a.name)}
              title={a.description}
            >
              <strong>{a.name}</strong>
              <small>recovery: {a.recovery}</small>
              <button data-testid={`palette-add-${a.name}`} onClick={() => addActivity(a.name)} title="Add after the last step">
                +
              </button>
            </div>
          ))}
        </aside>
        <section
          className="canvas"
          data-testid="canvas"
          onDragOver={(e) => (e.preventDefault(), (e.dataTransfer.dropEffect = 'copy'))}
          onDrop={(e) => {
            e.preventDefault();
            const name = e.dataTransfer.getData('application/x-jailwf-activity');
            if (name) addActivity(name, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
          }}
        >
          <ReactFlow
            nodes={flowNodes}
            edges={flowEdges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onNodeDragStop={onNodeDragStop}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onPaneClick={() => setSelected(null)}
            fitView
            fitViewOptions={{ maxZoom: 1 }}
            deleteKeyCode={['Delete', 'Backspace']}
          >
            <Background />
            <Controls />
          </ReactFlow>
        </section>
        <aside className="properties">
          <DefinitionFields store={store} issues={generalIssues} />
          {selectedNode ? (
            <PropertyPanel
              key={selectedNode.id}
              node={selectedNode}
              activity={catalog.get(selectedNode.step.activity)}
              issues={byNode.get(selectedNode.id) ?? []}
              onChange={(step) => store.getState().updateStep(selectedNode.id, step)}
              onDelete={() => (store.getState().removeNodes([selectedNode.id]), setSelected(null))}
            />
          ) : (
            <p className="hint">Select a step to edit it. Drag activities onto the canvas; connect a step's bottom to the next one's top.</p>
          )}
        </aside>
      </div>
    </div>
  );
}

function DefinitionFields({ store, issues }: { store: DesignerStore; issues: ValidationIssue[] }) {
  const meta = useStore(store, (s) => s.meta);
  const base = useStore(store, (s) => s.baseVersion);
  const set = store.getState().setMeta;
  return (
    <div className="definition-fields" data-testid="definition-fields">
      <h3>Definition</h3>
      <label>
        id
        <input data-testid="definition-id" value={meta.id} onChange={(e) => set({ id: e.target.value })} />
      </label>
      <label>
        title
        <input data-testid="definition-title" value={meta.title ?? ''} onChange={(e) => set({ title: e.target.value })} />
      </label>
      <label>
        description
        <textarea data-testid="definition-description" value={meta.description ?? ''} onChange={(e) => set({ description: e.target.value })} />
      </label>
      <label>
        scope
        <select data-testid="definition-scope" value={meta.scope ?? 'server'} onChange={(e) => set({ scope: e.target.value as 'server' | 'jailHost' })}>
          <option value="server">server (one instance per source server)</option>
          <option value="jailHost">jailHost (one instance for the jail host)</option>
        </select>
      </label>
      <p className="hint">{base ? `Based on version ${base}; saving makes version ${base + 1} or later.` : 'New: saving makes the next free version.'}</p>
      {issues.length > 0 && (
        <ul className="issues" data-testid="definition-issues">
          {issues.map((i, k) => (
            <li key={k}>{i.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
