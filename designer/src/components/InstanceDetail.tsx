import { useEffect, useMemo, useRef, useState } from 'react';
import { ReactFlow, Background, Controls, ReactFlowProvider, useNodesInitialized, useReactFlow, type Edge } from '@xyflow/react';
import { ApiError, type ApiClient } from '../api/client';
import type { FileDiff, InstanceAction, InstanceView, JournalEntry } from '../api/types';
import { parseUnifiedDiff } from '../instance/diff';
import { currentJob, formatBytes, formatEta, jobProgress, type Progress } from '../instance/progress';
import { actionResultText, allowedActions, instanceLook, mergeJournal, outputTail, reasonRequired, runEdges } from '../instance/state';
import { layoutGraph } from '../model/layout';
import { RunStepNode, type RunFlowNode } from './StepNode';

const nodeTypes = { run: RunStepNode };

/** One instance, live (SSE over fetch): its steps as a graph with their states, progress, output tail, decisions. */
export function InstanceDetail({ api, id }: { api: ApiClient; id: string }) {
  const [instance, setInstance] = useState<InstanceView | null>(null);
  const [entries, setEntries] = useState<JournalEntry[]>([]);
  const [streamError, setStreamError] = useState<string | null>(null);
  const [now, setNow] = useState(() => new Date());

  useEffect(() => {
    const ctl = new AbortController();
    api.instance(id).then(setInstance, (e) => setStreamError((e as Error).message));
    api.follow(
      id,
      (ev) => {
        setStreamError(null);
        if (ev.event === 'instance') setInstance(JSON.parse(ev.data) as InstanceView);
        else if (ev.event === 'journal') {
          const entry = JSON.parse(ev.data) as JournalEntry;
          setEntries((old) => mergeJournal(old, [entry]));
        }
      },
      ctl.signal,
      (e) => setStreamError(`live updates: ${(e as Error).message}; reconnecting`),
    );
    const t = setInterval(() => setNow(new Date()), 1000);
    return () => (ctl.abort(), clearInterval(t));
  }, [api, id]);

  const job = useMemo(() => currentJob(entries), [entries]);
  const progress = useMemo(() => (job ? jobProgress(entries, job, now) : null), [entries, job, now]);
  const tail = useMemo(() => outputTail(entries, job, 200), [entries, job]);

  if (!instance) return <div className="loading">{streamError ?? 'Loading…'}</div>;
  const look = instanceLook(instance.state);
  return (
    <div className="instance-detail" data-testid="instance-detail" data-state={instance.state}>
      <header>
        <h2>
          {instance.server ?? '(jail host)'} · {instance.definition} v{instance.version}
        </h2>
        <span className={`badge tone-${look.tone}`} data-testid="instance-state">
          {look.label}
        </span>
        <code>{instance.id}</code>
      </header>
      {streamError && <p className="error">{streamError}</p>}
      <div className="instance-grid">
        <div className="run-graph" data-testid="run-graph">
          <ReactFlowProvider>
            <RunGraph instance={instance} />
          </ReactFlowProvider>
        </div>
        <div className="run-side">
          {progress && <ProgressBar progress={progress} />}
          {instance.incident && (
            <section className="incident" data-testid="incident">
              <h3>Incident: {instance.incident.step}</h3>
              <p>{instance.incident.error}</p>
              {instance.incident.host && <p className="hint">host {instance.incident.host}, {instance.incident.attempts ?? 0} attempt(s)</p>}
              {instance.incident.outputTail && <pre className="tail">{instance.incident.outputTail}</pre>}
            </section>
          )}
          {instance.approval && <ApprovalView api={api} instance={instance} />}
          <Actions api={api} instance={instance} />
          <section>
            <h3>Output{job ? ` of ${job}` : ''}</h3>
            <Tail lines={tail.length ? tail : instance.lastOutput ? [instance.lastOutput] : []} />
          </section>
          {instance.lastError && instance.state !== 'complete' && !instance.incident && <p className="error">last error: {instance.lastError}</p>}
        </div>
      </div>
    </div>
  );
}

function RunGraph({ instance }: { instance: InstanceView }) {
  const current = instance.current?.id;
  const { nodes, edges } = useMemo(() => {
    const ids = instance.steps.map((s, i) => `${i}-${s.id}`);
    const laid = layoutGraph({
      meta: { id: instance.definition, version: instance.version },
      nodes: instance.steps.map((s, i) => ({ id: ids[i], position: { x: 0, y: 0 }, step: { id: s.id, activity: s.activity } })),
      edges: runEdges(instance.steps, ids),
    });
    const nodes: RunFlowNode[] = laid.nodes.map((n, i) => ({
      id: n.id,
      type: 'run',
      position: n.position,
      draggable: false,
      connectable: false,
      data: { step: instance.steps[i], current: instance.steps[i].id === current },
    }));
    const edges: Edge[] = laid.edges.map((e) => ({ ...e, animated: nodes.find((n) => n.id === e.target)?.data.step.state === 'running' }));
    return { nodes, edges };
  }, [instance, current]);
  // Fit once the nodes have their measured sizes (a fit before that can leave the whole chain outside the view).
  const flow = useReactFlow();
  const measured = useNodesInitialized();
  useEffect(() => {
    if (measured) void flow.fitView({ maxZoom: 1, minZoom: 0.2 });
  }, [measured, flow, nodes.length]);
  return (
    <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} fitView fitViewOptions={{ maxZoom: 1, minZoom: 0.2 }} minZoom={0.2} nodesDraggable={false} nodesConnectable={false} elementsSelectable={false}>
      <Background />
      <Controls showInteractive={false} />
    </ReactFlow>
  );
}

function ProgressBar({ progress }: { progress: Progress }) {
  const pct = Math.round(progress.percent * 10) / 10;
  return (
    <section className="progress" data-testid="progress">
      <div className="progress-label">
        <span data-testid="progress-label">{progress.label}</span>
        <span data-testid="progress-percent">{pct}%</span>
      </div>
      <div className="progress-track" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
        <div className="progress-fill" style={{ width: `${progress.percent}%` }} />
      </div>
      <div className="progress-meta">
        {progress.bytesTotal !== undefined && (
          <span data-testid="progress-bytes">
            {formatBytes(progress.bytesDone ?? 0)} of {formatBytes(progress.bytesTotal)}
          </span>
        )}
        {progress.bytesPerSecond !== undefined && <span>{formatBytes(progress.bytesPerSecond)}/s</span>}
        {progress.etaSeconds !== undefined && <span data-testid="progress-eta">{progress.etaSeconds === 0 ? 'finishing' : `${formatEta(progress.etaSeconds)} left`}</span>}
      </div>
    </section>
  );
}

function Tail({ lines }: { lines: string[] }) {
  const ref = useRef<HTMLPreElement>(null);
  const [stick, setStick] = useState(true);
  useEffect(() => {
    if (stick && ref.current) ref.current.scrollTop = ref.current.scrollHeight;
  }, [lines, stick]);
  return (
    <pre
      ref={ref}
      className="tail"
      data-testid="output-tail"
      onScroll={(e) => {
        const el = e.currentTarget;
        setStick(el.scrollTop + el.clientHeight >= el.scrollHeight - 4);
      }}
    >
      {lines.join('\n') || '(no output)'}
    </pre>
  );
}

function Actions({ api, instance }: { api: ApiClient; instance: InstanceView }) {
  const [reason, setReason] = useState('');
  const [force, setForce] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const actions = allowedActions(instance.state);
  if (actions.length === 0) return null;
  const run = async (action: InstanceAction) => {
    if (reasonRequired(action) && !reason.trim()) {
      setResult(`${action} needs a reason (the journal keeps it)`);
      return;
    }
    if (action === 'abort' && !window.confirm(`Abort ${instance.server ?? instance.id}? Its running host job is killed.`)) return;
    setBusy(true);
    try {
      const r = await api.act(instance.id, action, reason.trim(), force);
      setResult(actionResultText(action, r));
      setReason('');
    } catch (e) {
      setResult(`${action} refused: ${e instanceof ApiError ? (e.problem.detail ?? e.problem.title) : (e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="actions" data-testid="actions">
      <h3>Decision</h3>
      <textarea data-testid="reason-input" placeholder="Reason (journaled with your decision)" value={reason} onChange={(e) => setReason(e.target.value)} />
      <div className="action-buttons">
        {actions.map((a) => (
          <button key={a} data-testid={`action-${a}`} className={a === 'abort' ? 'danger' : a === 'approve' ? 'primary' : ''} disabled={busy} onClick={() => run(a)}>
            {a}
          </button>
        ))}
        {actions.includes('skip') && (
          <label title="Skip even when a later step needs this step's result">
            <input type="checkbox" data-testid="skip-force" checked={force} onChange={(e) => setForce(e.target.checked)} /> force skip
          </label>
        )}
      </div>
      {result && (
        <p className="hint" data-testid="action-result">
          {result}
        </p>
      )}
    </section>
  );
}

function ApprovalView({ api, instance }: { api: ApiClient; instance: InstanceView }) {
  const approval = instance.approval!;
  const [diffs, setDiffs] = useState<FileDiff[] | null>(null);
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    if (approval.files.length === 0) return;
    api.approvalDiffs(instance.id).then(
      (r) => setDiffs(r.files),
      (e) => setNote(e instanceof ApiError && e.status === 404 ? 'The server does not provide the differences yet.' : `differences: ${(e as Error).message}`),
    );
  }, [api, instance.id, approval.files.length]);
  return (
    <section className="approval" data-testid="approval">
      <h3>Needs approval: {approval.step}</h3>
      <p data-testid="approval-subject">{approval.subject}</p>
      {approval.files.length > 0 && (
        <ul>
          {approval.files.map((f) => (
            <li key={f}>
              <code>{f}</code>
            </li>
          ))}
        </ul>
      )}
      {note && <p className="hint">{note}</p>}
      {diffs?.map((d) => (
        <div key={d.path} className="diff" data-testid={`diff-${d.path}`}>
          <h4>{d.path}</h4>
          <table>
            <tbody>
              {parseUnifiedDiff(d.diff).map((l, i) => (
                <tr key={i} className={`diff-${l.kind}`}>
                  <td className="ln">{l.oldLine ?? ''}</td>
                  <td className="ln">{l.newLine ?? ''}</td>
                  <td>
                    <code>
                      {l.kind === 'add' ? '+' : l.kind === 'del' ? '-' : l.kind === 'context' ? ' ' : ''}
                      {l.text}
                    </code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </section>
  );
}
