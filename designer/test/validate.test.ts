import { describe, expect, it } from 'vitest';
import { definitionToGraph } from '../src/model/graph';
import { BRANCH_MESSAGE, issuesByNode, validateGraph } from '../src/model/validate';
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

  it('reports a branch (two successors) and a join (two predecessors) as unsupported, at the node', () => {
    const g = chain({ id: 'a', activity: 'Strip' }, { id: 'b', activity: 'Strip' }, { id: 'c', activity: 'Strip' });
    g.edges.push({ id: 'x', source: g.nodes[0].id, target: g.nodes[2].id });
    const issues = validateGraph(g, catalog);
    expect(issues.map((i) => [i.code, i.nodeId])).toEqual([
      ['branch', g.nodes[0].id],
      ['branch', g.nodes[2].id],
    ]);
    expect(issues[0].message).toContain(BRANCH_MESSAGE);
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
