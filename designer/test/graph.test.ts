import { describe, expect, it } from 'vitest';
import { definitionToGraph, graphToDefinition, parseDefinition, runOrder } from '../src/model/graph';
import { apiGraphToDesign, apiProblemsToIssues, designToApiGraph } from '../src/model/apiGraph';
import type { DesignGraph } from '../src/model/types';
import { validateGraph } from '../src/model/validate';
import { catalog, realCatalog, workflowFile } from './catalog';

describe('the catalog read from ActivityCatalog.cs', () => {
  it('has every activity with a compiled input schema', () => {
    const names = realCatalog().map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['Preflight', 'TransferPartitions', 'BuildWorld', 'MergeEtc', 'WaitForWindow', 'UpgradeJails']));
    expect(catalog.get('WaitForWindow')!.inputSchema.required).toEqual(['start', 'end']);
  });
});

describe('definition <-> graph', () => {
  for (const file of ['consolidate-server.json', 'nightly-buildworld.json', 'upgrade-jail.json']) {
    it(`round-trips ${file} unchanged`, () => {
      const def = workflowFile(file);
      const graph = definitionToGraph(def);
      expect(graph.nodes).toHaveLength(def.steps.length);
      expect(graph.edges).toHaveLength(def.steps.reduce((sum, s, i) => sum + (s.after ?? (i > 0 ? [''] : [])).length, 0));
      const back = graphToDefinition(graph, catalog);
      expect(back).toEqual({ ok: true, definition: def });
    });
  }

  it('exports the steps in edge order, not in the order they were added', () => {
    const graph = definitionToGraph(workflowFile('upgrade-jail.json'));
    const shuffled: DesignGraph = { ...graph, nodes: [...graph.nodes].reverse() };
    const back = graphToDefinition(shuffled, catalog);
    expect(back.ok && back.definition.steps.map((s) => s.id)).toEqual(['stop', 'installworld', 'mergeetc', 'start', 'verify']);
  });

  it('lays imported steps out top to bottom without overlap', () => {
    const graph = definitionToGraph(workflowFile('upgrade-jail.json'));
    const ys = graph.nodes.map((n) => n.position.y);
    for (let i = 1; i < ys.length; i++) expect(ys[i]).toBeGreaterThanOrEqual(ys[i - 1] + 72);
  });

  it('imports consolidate-server with the world build and the transfer as parallel branches, side by side', () => {
    const graph = definitionToGraph(workflowFile('consolidate-server.json'));
    const node = (step: string) => graph.nodes.find((n) => n.step.id === step)!;
    const edge = (from: string, to: string) => graph.edges.some((e) => e.source === node(from).id && e.target === node(to).id);
    expect(edge('preflight', 'buildworld') && edge('preflight', 'transfer')).toBe(true);
    expect(edge('buildworld', 'cutover-approval') && edge('transfer', 'cutover-approval')).toBe(true);
    expect(edge('buildworld', 'transfer')).toBe(false);
    expect(node('buildworld').position.y).toBe(node('transfer').position.y);
    expect(Math.abs(node('buildworld').position.x - node('transfer').position.x)).toBeGreaterThanOrEqual(260);
    expect(graph.nodes.every((n) => n.step.after === undefined)).toBe(true);
  });

  it('exports branches as after lists, left out where a step runs after the one before it', () => {
    const graph = definitionToGraph({ id: 'w', version: 1, steps: [{ id: 'a', activity: 'Strip' }, { id: 'b', activity: 'Strip' }, { id: 'c', activity: 'Strip' }, { id: 'd', activity: 'Strip' }] });
    // a -> { b | c } -> d: c after a (not b), d after b and c.
    const [a, b, c, d] = graph.nodes;
    graph.edges = [
      { id: 'ab', source: a.id, target: b.id },
      { id: 'ac', source: a.id, target: c.id },
      { id: 'cd', source: c.id, target: d.id },
      { id: 'bd', source: b.id, target: d.id },
    ];
    const back = graphToDefinition(graph, catalog);
    expect(back).toEqual({
      ok: true,
      definition: { id: 'w', version: 1, steps: [{ id: 'a', activity: 'Strip' }, { id: 'b', activity: 'Strip' }, { id: 'c', activity: 'Strip', after: ['a'] }, { id: 'd', activity: 'Strip', after: ['b', 'c'] }] },
    });
  });

  it('drops empty inputs, titles and retry fields on export', () => {
    const graph = definitionToGraph({ id: 'w', version: 1, steps: [{ id: 'a', activity: 'Strip', title: '', inputs: {}, retry: { maxAttempts: undefined } }] });
    const back = graphToDefinition(graph, catalog);
    expect(back).toEqual({ ok: true, definition: { id: 'w', version: 1, steps: [{ id: 'a', activity: 'Strip' }] } });
  });

  it('refuses to export an invalid graph and says why', () => {
    const graph = definitionToGraph({ id: 'w', version: 1, steps: [{ id: 'a', activity: 'NoSuch' }] });
    const back = graphToDefinition(graph, catalog);
    expect(back.ok).toBe(false);
    expect(!back.ok && back.issues.map((i) => i.message)).toEqual(["unknown activity 'NoSuch'"]);
  });

  it('parses definition text and names what is wrong', () => {
    expect(() => parseDefinition('{ "id": ')).toThrow(/malformed JSON/);
    expect(() => parseDefinition('[]')).toThrow('a definition is a JSON object');
    expect(() => parseDefinition('{"id":"x","version":1}')).toThrow('a definition has a steps array');
    expect(parseDefinition(JSON.stringify(workflowFile('upgrade-jail.json'))).steps).toHaveLength(5);
  });

  it('finds a run order for a fork and none for a cycle', () => {
    const g = definitionToGraph({ id: 'w', version: 1, steps: [{ id: 'a', activity: 'Strip' }, { id: 'b', activity: 'Strip' }, { id: 'c', activity: 'Strip' }] });
    g.edges.push({ id: 'x', source: g.nodes[0].id, target: g.nodes[2].id });
    expect(runOrder(g)?.map((n) => n.step.id)).toEqual(['a', 'b', 'c']);
    g.edges.push({ id: 'back', source: g.nodes[2].id, target: g.nodes[0].id });
    expect(runOrder(g)).toBeNull();
  });
});

describe('the API graph', () => {
  it('round-trips through the API shape with positions and edges by step id', () => {
    const graph = definitionToGraph(workflowFile('nightly-buildworld.json'));
    const { body, edgeIds } = designToApiGraph(graph, 1);
    expect(body.baseVersion).toBe(1);
    expect(body.edges).toEqual([
      { from: 'buildworld', to: 'window' },
      { from: 'window', to: 'upgrade' },
    ]);
    expect(edgeIds).toEqual(graph.edges.map((e) => e.id));
    const again = apiGraphToDesign({ ...body, version: 1 });
    expect(again.nodes.map((n) => n.position)).toEqual(graph.nodes.map((n) => n.position));
    // The API has no $schema (the stored JSON gets none from the designer); everything else is the same.
    const { $schema, ...expected } = workflowFile('nightly-buildworld.json');
    expect($schema).toBeDefined();
    expect(graphToDefinition(again, catalog)).toEqual({ ok: true, definition: expected });
  });

  it('takes the order of steps[] when edges is null, and lays out steps without positions', () => {
    const g = apiGraphToDesign({ id: 'w', version: 3, steps: [{ id: 'a', activity: 'Strip' }, { id: 'b', activity: 'StartJail' }], edges: null });
    expect(g.meta.version).toBe(3);
    expect(g.edges.map((e) => [e.source, e.target])).toEqual([[g.nodes[0].id, g.nodes[1].id]]);
    expect(g.nodes[1].position.y).toBeGreaterThan(g.nodes[0].position.y);
  });

  it('takes the null fields of the API (description, step title, retry, inputs) as absent, so the graph validates', () => {
    const api = { id: 'w', version: 2, title: 'T', description: null, scope: null, steps: [{ id: 'a', activity: 'Strip', title: null, retry: null, inputs: null }], edges: [] };
    const g = apiGraphToDesign(api as unknown as Parameters<typeof apiGraphToDesign>[0]);
    expect(g.meta).toEqual({ id: 'w', version: 2, title: 'T' });
    expect(g.nodes[0].step).toEqual({ id: 'a', activity: 'Strip' });
    expect(validateGraph(g, catalog)).toEqual([]);
  });

  it('places the server problems at the node and edge they name', () => {
    const graph = definitionToGraph(workflowFile('upgrade-jail.json'));
    const { edgeIds } = designToApiGraph(graph);
    const issues = apiProblemsToIssues(
      [
        { code: 'missing-input', field: 'steps[1].inputs.start', node: 'installworld', message: "missing required input 'start'" },
        { code: 'cycle', field: 'edges[2]', edge: 2, node: null, message: 'the edges form a cycle' },
      ],
      graph,
      edgeIds,
    );
    expect(issues[0]).toMatchObject({ nodeId: graph.nodes[1].id, field: 'inputs.start' });
    expect(issues[1]).toMatchObject({ edgeId: graph.edges[2].id, nodeId: graph.edges[2].source });
  });
});

import { explicitInputs } from '../src/model/inputs';

describe('explicitInputs (the property form)', () => {
  const schema = catalog.get('TransferPartitions')!.inputSchema;
  it('keeps what the user set and drops the defaults the form filled in', () => {
    expect(explicitInputs({ dumpLevel: 0 }, { dumpLevel: 0, snapshot: true, allowInconsistentDump: false }, schema)).toEqual({ dumpLevel: 0 });
    expect(explicitInputs({}, { snapshot: false, allowInconsistentDump: false }, schema)).toEqual({ snapshot: false });
    expect(explicitInputs({ snapshot: true }, { snapshot: true, dumpLevel: undefined }, schema)).toEqual({ snapshot: true });
  });
});
