import Form from '@rjsf/core';
import type { RJSFSchema, UiSchema } from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import { explicitInputs } from '../model/inputs';
import type { ActivityInfo, DesignNode, RetryPolicy, StepDefinition, ValidationIssue } from '../model/types';

const uiSchema: UiSchema = { 'ui:submitButtonOptions': { norender: true } };

/** The selected step: id, title, retry, and the activity's inputs as a form generated from its JSON Schema. */
export function PropertyPanel({
  node,
  activity,
  issues,
  onChange,
  onDelete,
}: {
  node: DesignNode;
  activity: ActivityInfo | undefined;
  issues: ValidationIssue[];
  onChange: (step: StepDefinition) => void;
  onDelete: () => void;
}) {
  const step = node.step;
  const fieldIssue = (field: string) => issues.filter((i) => i.field === field).map((i) => i.message).join('; ');
  const setRetry = (field: keyof RetryPolicy, raw: string) => {
    const retry: RetryPolicy = { ...step.retry };
    if (raw === '') delete retry[field];
    else retry[field] = Number(raw);
    onChange({ ...step, retry: Object.keys(retry).length ? retry : undefined });
  };
  const schema = (activity?.inputSchema ?? { type: 'object' }) as RJSFSchema;
  const hasInputs = Object.keys((schema.properties as object | undefined) ?? {}).length > 0;
  return (
    <div className="property-panel" data-testid="property-panel">
      <h3>
        Step <code>{step.id}</code>
      </h3>
      <p className="hint" data-testid="property-activity">
        {step.activity}
        {activity ? ` (recovery: ${activity.recovery}) — ${activity.description}` : ' — not in the catalog'}
      </p>
      <label>
        step id
        <input data-testid="property-step-id" value={step.id} onChange={(e) => onChange({ ...step, id: e.target.value })} aria-invalid={!!fieldIssue('id')} />
        {fieldIssue('id') && <span className="field-error">{fieldIssue('id')}</span>}
      </label>
      <label>
        title
        <input data-testid="property-title" value={step.title ?? ''} onChange={(e) => onChange({ ...step, title: e.target.value || undefined })} />
      </label>
      <fieldset className="retry">
        <legend>retry (empty = the activity's default{activity?.retry ? `: ${activity.retry.maxAttempts} attempts, ${activity.retry.backoffSeconds} s, max ${activity.retry.maxBackoffSeconds} s` : ''})</legend>
        {(['maxAttempts', 'backoffSeconds', 'maxBackoffSeconds'] as const).map((f) => (
          <label key={f}>
            {f}
            <input data-testid={`property-retry-${f}`} type="number" value={step.retry?.[f] ?? ''} onChange={(e) => setRetry(f, e.target.value)} />
            {fieldIssue(`retry.${f}`) && <span className="field-error">{fieldIssue(`retry.${f}`)}</span>}
          </label>
        ))}
      </fieldset>
      <div className="inputs-form" data-testid="property-form">
        <h4>inputs</h4>
        {activity && hasInputs ? (
          <Form
            schema={schema}
            uiSchema={uiSchema}
            formData={step.inputs ?? {}}
            validator={validator}
            liveValidate
            showErrorList={false}
            onChange={(e) => {
              const inputs = explicitInputs(step.inputs, (e.formData as Record<string, unknown>) ?? {}, schema as Record<string, unknown>);
              if (JSON.stringify(inputs) !== JSON.stringify(step.inputs ?? {})) onChange({ ...step, inputs });
            }}
          />
        ) : (
          <p className="hint">{activity ? 'This activity takes no inputs.' : 'Unknown activity: no inputs form.'}</p>
        )}
      </div>
      {issues.length > 0 && (
        <ul className="issues" data-testid="property-issues">
          {issues.map((i, k) => (
            <li key={k}>
              {i.field ? <code>{i.field}</code> : null} {i.message}
            </li>
          ))}
        </ul>
      )}
      <button data-testid="delete-step-button" className="danger" onClick={onDelete}>
        Delete step
      </button>
    </div>
  );
}
