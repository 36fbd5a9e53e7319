import { Handle, Position, type NodeProps, type Node } from '@xyflow/react';
import type { StepDefinition, ValidationIssue } from '../model/types';
import type { StepView } from '../api/types';
import { stepLook } from '../instance/state';

export type DesignNodeData = { step: StepDefinition; issues: ValidationIssue[] };
export type DesignFlowNode = Node<DesignNodeData, 'design'>;

/** A step in the designer: its id, activity, and the reasons it cannot be saved, at the node. */
export function DesignStepNode({ data, selected }: NodeProps<DesignFlowNode>) {
  const invalid = data.issues.length > 0;
  return (
    <div className={`step-node ${invalid ? 'invalid' : ''} ${selected ? 'selected' : ''}`} data-testid={`node-${data.step.id}`} data-invalid={invalid}>
      <Handle type="target" position={Position.Top} />
      <div className="step-title">{data.step.title || data.step.id}</div>
      <div className="step-activity">
        {data.step.id} · {data.step.activity}
      </div>
      {invalid && (
        <ul className="node-issues" data-testid={`node-issues-${data.step.id}`}>
          {data.issues.map((i, k) => (
            <li key={k}>{i.message}</li>
          ))}
        </ul>
      )}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}

export type RunNodeData = { step: StepView; current: boolean };
export type RunFlowNode = Node<RunNodeData, 'run'>;

/** A step of an instance with its state. */
export function RunStepNode({ data }: NodeProps<RunFlowNode>) {
  const look = stepLook(data.step.state);
  return (
    <div className={`step-node state-${look.tone} ${data.current ? 'current' : ''}`} data-testid={`step-${data.step.id}`} data-state={data.step.state}>
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <div className="step-title">{data.step.title || data.step.id}</div>
      <div className="step-activity">
        {data.step.activity} · <span data-testid={`step-state-${data.step.id}`}>{look.label}</span>
        {data.step.failures ? ` · ${data.step.failures} failed attempt(s)` : ''}
      </div>
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
}
