import { describe, expect, it } from 'vitest';
import { definitionToGraph } from '../src/model/graph';
import { issuesByNode, validateGraph } from '../src/model/validate';
import type { DesignGraph, StepDefinition } from '../src/model/types';
import { catalog, workflowFile } from './catalog';

function chain(...steps: StepDefinition[]): DesignGraph {
  return definitionToGraph({ id: 'w', version: 1, steps });
}

const codes = (g: DesignGraph) => validateGraph(g, catalog).map((i) => i.code);

describe('validateGraph', () => {
  it('accepts the shipped workflows', () => {
    for (const f of ['consolidate-server.json', 'nightly-buildworld.json', 'upgrade-jail.json']) {
      expect(validateGraph(definitionToGraph(workflowFile(f)), catalog)).toEqual([]);
    }
  });

  it('refuses an empty workflow', () => {
    expect(codes(chain())).toEqual(['empty']);
  });

  it('reports a cycle at every step on it', () => {
    const g = chain({ id: 'a', activity: 'Strip' }, { id: 'b', activity: 'Strip' }, { id: 'c', activity: 'Strip' });
    g.edges.push({ id: 'back', source: g.nodes[2].id, target: g.nodes[1].id });
    const issues = validateGraph(g, catalog).filter((i) => i.code === 'cycle');
    expect(issues.map((i) => i.nodeId).sort()).toEqual([g.nodes[1].id, g.nodes[2].id].sort());
  });

  it('reports a self-loop as a cycle', () => {
    const g = chain({ id: 'a', activity: 'Strip' });
    g.edges.push({ id: 'self', source: g.nodes[0].id, target: g.nodes[0].id });
    expect(codes(g)).toEqual(['cycle']);
  });

  it('reports a dangling edge', () => {
    const g = chain({ id: 'a', activity: 'Strip' });
    g.edges.push({ id: 'd', source: g.nodes[0].id, target: 'gone' });
    expect(validateGraph(g, catalog)).toEqual([expect.objectContaining({ code: 'dangling-edge', edgeId: 'd', nodeId: g.nodes[0].id })]);
  });

  /** A graph from steps that each name what they run after (as in a definition file). */
  function flow(...steps: (StepDefinition & { after?: string[] })[]): DesignGraph {
    return definitionToGraph({ id: 'w', version: 1, steps });
  }
  const s = (id: string, ...after: string[]) => ({ id, activity: 'Strip', ...(after.length ? { after } : {}) });
  const nodeOf = (g: DesignGraph, step: string) => g.nodes.find((n) => n.step.id === step)!.id;

  it('accepts a fork whose branches meet at one join, nested forks, and a fork edge straight to its join', () => {
    // a -> { b -> { c | d } -> e | f } -> g
    expect(validateGraph(flow(s('a'), s('b'), s('c'), s('d', 'b'), s('e', 'c', 'd'), s('f', 'a'), s('g', 'e', 'f')), catalog)).toEqual([]);
    // an inner fork ending at the outer join: h -> { i -> { k | l } | j } -> m
    expect(validateGraph(flow(s('h'), s('i'), s('j', 'h'), s('k', 'i'), s('l', 'i'), s('m', 'j', 'k', 'l')), catalog)).toEqual([]);
    expect(validateGraph(flow(s('a'), s('b'), s('c', 'a', 'b')), catalog)).toEqual([]);
  });

  it('reports a branch that ends while the others go on, at its last step, in the server\'s words', () => {
    const g = flow(s('preflight'), s('buildworld'), s('transfer', 'preflight'), s('strip'));
    const issues = validateGraph(g, catalog);
    expect(issues.map((i) => [i.code, i.nodeId])).toEqual([['unjoined-branch', nodeOf(g, 'buildworld')]]);
    expect(issues[0].message).toBe(
      "no step runs after step 'buildworld', but the definition goes on to 'strip': the branches of a fork meet again at one join step; list 'buildworld' in the 'after' of the step where its branch meets the others",
    );
  });

  it('reports a join of branches of different forks, and of some branches of a fork only, at the join', () => {
    const crossed = flow(s('s'), s('a'), s('b', 's'), s('c', 'a'), s('d', 'a', 'b'), s('e', 'c', 'd'));
    const issues = validateGraph(crossed, catalog);
    expect(issues.map((i) => [i.code, i.nodeId])).toEqual([['join', nodeOf(crossed, 'd')]]);
    expect(issues[0].message).toMatch(/^step 'd' runs after 'a', 'b', which lie in different branches of the fork 's' \(they meet only at 'e'\)/);

    const partial = flow(s('f'), s('a', 'f'), s('b', 'f'), s('c', 'f'), s('j1', 'a', 'b'), s('j2', 'j1', 'c'));
    const some = validateGraph(partial, catalog);
    expect(some.map((i) => [i.code, i.nodeId])).toEqual([['join', nodeOf(partial, 'j1')]]);
    expect(some[0].message).toContain("let it join all branches of 'f'");
  });

  it('judges the shape by the edges, whatever order the nodes were added in', () => {
    const g = flow(s('a'), s('b'), s('c', 'a'), s('d', 'b', 'c'));
    expect(validateGraph({ ...g, nodes: [...g.nodes].reverse() }, catalog)).toEqual([]);
  });

  it('reports a step off the chain', () => {
    const g = chain({ id: 'a', activity: 'Strip' }, { id: 'b', activity: 'Strip' });
    g.nodes.push({ id: 'lonely', position: { x: 0, y: 0 }, step: { id: 'c', activity: 'Strip' } });
    expect(validateGraph(g, catalog)).toEqual([expect.objectContaining({ code: 'disconnected', nodeId: 'lonely' })]);
  });

  it('reports an unknown activity', () => {
    expect(codes(chain({ id: 'a', activity: 'Reboot' }))).toEqual(['unknown-activity']);
  });

  it('reports a missing required input by name, at the node and the field', () => {
    const g = chain({ id: 'window', activity: 'WaitForWindow', inputs: { start: '22:00' } });
    expect(validateGraph(g, catalog)).toEqual([
      { code: 'missing-input', nodeId: g.nodes[0].id, field: 'inputs.end', message: "missing required input 'end'" },
    ]);
  });

  it('reports inputs that break the schema: pattern, range, unknown input', () => {
    const g = chain(
      { id: 'w', activity: 'WaitForWindow', inputs: { start: '25:00', end: '06:00' } },
      { id: 't', activity: 'TransferPartitions', inputs: { dumpLevel: 1, compress: true } },
    );
    const issues = validateGraph(g, catalog);
    expect(issues.map((i) => [i.nodeId, i.field])).toEqual([
      [g.nodes[0].id, 'inputs.start'],
      [g.nodes[1].id, 'inputs.compress'],
      [g.nodes[1].id, 'inputs.dumpLevel'],
    ].sort((a, b) => (a[0] === b[0] ? 0 : a[0] === g.nodes[0].id ? -1 : 1)));
  });

  it('reports an unknown time zone as the server does', () => {
    const g = chain({ id: 'w', activity: 'WaitForWindow', inputs: { start: '22:00', end: '06:00', timeZone: 'Mars/Olympus' } });
    expect(validateGraph(g, catalog)).toEqual([expect.objectContaining({ field: 'inputs.timeZone', message: "unknown time zone 'Mars/Olympus'" })]);
    g.nodes[0].step.inputs!.timeZone = 'Europe/Berlin';
    expect(validateGraph(g, catalog)).toEqual([]);
  });

  it('reports bad and duplicate step ids', () => {
    const g = chain({ id: 'Strip', activity: 'Strip' }, { id: 'a', activity: 'Strip' }, { id: 'a', activity: 'StartJail' });
    expect(codes(g)).toEqual(['step-id', 'duplicate-step-id']);
  });

  it('reports retry values out of range and a max backoff below the backoff', () => {
    const g = chain({ id: 'a', activity: 'Strip', retry: { maxAttempts: 0, backoffSeconds: 60, maxBackoffSeconds: 30 } });
    expect(validateGraph(g, catalog).map((i) => i.field)).toEqual(['retry.maxAttempts', 'retry.maxBackoffSeconds']);
  });

  it('reports a bad definition id and version', () => {
    const g = chain({ id: 'a', activity: 'Strip' });
    g.meta = { id: 'My Flow', version: 0 };
    expect(validateGraph(g, catalog).map((i) => i.field)).toEqual(['id', 'version']);
  });

  it('groups the issues by node', () => {
    const g = chain({ id: 'a', activity: 'Nope' }, { id: 'A', activity: 'Strip' });
    const map = issuesByNode(validateGraph(g, catalog));
    expect([...map.keys()]).toEqual([g.nodes[0].id, g.nodes[1].id]);
  });
});
