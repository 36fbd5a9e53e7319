import { describe, expect, it } from 'vitest';
import { createDesignerStore, uniqueStepId } from '../src/store/designer';
import { definitionToGraph, graphToDefinition } from '../src/model/graph';
import { catalog, workflowFile } from './catalog';

describe('designer store with undo/redo', () => {
  it('undoes and redoes adding, connecting, editing and removing steps', () => {
    const store = createDesignerStore();
    const { undo, redo } = store.temporal.getState();
    const a = store.getState().addStep('StopJail', { x: 0, y: 0 });
    const b = store.getState().addStep('StartJail', { x: 0, y: 100 });
    store.getState().connect(a, b);
    store.getState().updateStep(b, { id: 'start', activity: 'StartJail', title: 'Start it' });
    expect(store.getState().nodes.map((n) => n.step.id)).toEqual(['stop-jail', 'start']);

    undo();
    expect(store.getState().nodes[1].step).toEqual({ id: 'start-jail', activity: 'StartJail' });
    undo();
    expect(store.getState().edges).toEqual([]);
    redo();
    redo();
    expect(store.getState().nodes[1].step.title).toBe('Start it');
    expect(store.getState().edges).toHaveLength(1);

    store.getState().removeNodes([a]);
    expect(store.getState().nodes).toHaveLength(1);
    expect(store.getState().edges).toEqual([]);
    undo();
    expect(store.getState().nodes).toHaveLength(2);
    expect(store.getState().edges).toHaveLength(1);
  });

  it('drops the redo branch after a new edit', () => {
    const store = createDesignerStore();
    store.getState().addStep('Strip', { x: 0, y: 0 });
    store.getState().addStep('Strip', { x: 0, y: 0 });
    store.temporal.getState().undo();
    store.getState().addStep('BuildWorld', { x: 0, y: 0 });
    expect(store.temporal.getState().futureStates).toHaveLength(0);
    expect(store.getState().nodes.map((n) => n.step.activity)).toEqual(['Strip', 'BuildWorld']);
  });

  it('records no history for a move to the same place or a duplicate edge', () => {
    const store = createDesignerStore();
    const a = store.getState().addStep('Strip', { x: 5, y: 5 });
    const b = store.getState().addStep('Strip', { x: 5, y: 80 });
    store.getState().connect(a, b);
    const before = store.temporal.getState().pastStates.length;
    store.getState().moveNode(a, { x: 5, y: 5 });
    store.getState().connect(a, b);
    expect(store.temporal.getState().pastStates.length).toBe(before);
  });

  it('lays out as one undoable change and keeps the definition', () => {
    const store = createDesignerStore();
    store.getState().load(definitionToGraph(workflowFile('upgrade-jail.json')), 1);
    store.temporal.getState().clear();
    const first = store.getState().nodes[0].id;
    store.getState().moveNode(first, { x: 900, y: 900 });
    store.getState().layout();
    expect(store.getState().nodes[0].position).not.toEqual({ x: 900, y: 900 });
    store.temporal.getState().undo();
    expect(store.getState().nodes[0].position).toEqual({ x: 900, y: 900 });
    const out = graphToDefinition(store.getState(), catalog);
    expect(out).toEqual({ ok: true, definition: workflowFile('upgrade-jail.json') });
    expect(store.getState().baseVersion).toBe(1);
  });

  it('makes step ids from activity names, unique', () => {
    expect(uniqueStepId('TransferPartitions', [])).toBe('transfer-partitions');
    expect(uniqueStepId('Strip', ['strip', 'strip-2'])).toBe('strip-3');
  });
});
