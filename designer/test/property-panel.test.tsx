// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { PropertyPanel } from '../src/components/PropertyPanel';
import type { StepDefinition } from '../src/model/types';
import { validateGraph } from '../src/model/validate';
import { definitionToGraph } from '../src/model/graph';
import { catalog } from './catalog';

afterEach(cleanup);

describe('PropertyPanel', () => {
  it('generates the inputs form from the activity schema and stores only what the user set', () => {
    const changes: StepDefinition[] = [];
    const step: StepDefinition = { id: 'window', activity: 'WaitForWindow', inputs: { start: '22:00' } };
    const graph = definitionToGraph({ id: 'w', version: 1, steps: [step] });
    const issues = validateGraph(graph, catalog);
    render(<PropertyPanel node={graph.nodes[0]} activity={catalog.get('WaitForWindow')} issues={issues} onChange={(s) => changes.push(s)} onDelete={() => undefined} />);

    const form = screen.getByTestId('property-form');
    const inputs = form.querySelectorAll('input');
    expect([...inputs].map((i) => i.id)).toEqual(['root_start', 'root_end', 'root_timeZone']);
    expect(screen.getByTestId('property-issues').textContent).toContain("missing required input 'end'");

    fireEvent.change(form.querySelector('#root_end')!, { target: { value: '06:00' } });
    expect(changes.at(-1)).toEqual({ id: 'window', activity: 'WaitForWindow', inputs: { start: '22:00', end: '06:00' } });
  });

  it('edits the step id and the retry policy', () => {
    const changes: StepDefinition[] = [];
    const graph = definitionToGraph({ id: 'w', version: 1, steps: [{ id: 'strip', activity: 'Strip' }] });
    render(<PropertyPanel node={graph.nodes[0]} activity={catalog.get('Strip')} issues={[]} onChange={(s) => changes.push(s)} onDelete={() => undefined} />);
    expect(screen.getByTestId('property-form').textContent).toContain('takes no inputs');
    fireEvent.change(screen.getByTestId('property-step-id'), { target: { value: 'strip-tree' } });
    fireEvent.change(screen.getByTestId('property-retry-maxAttempts'), { target: { value: '5' } });
    expect(changes).toEqual([
      { id: 'strip-tree', activity: 'Strip' },
      { id: 'strip', activity: 'Strip', retry: { maxAttempts: 5 } },
    ]);
  });
});
