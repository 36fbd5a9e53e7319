import type { ActionResult, InstanceAction, InstanceState, InstanceView, JournalEntry, StepState, StepView } from '../api/types';

export interface StateLook {
  label: string;
  /** CSS class (see styles.css) and the value of data-state. */
  tone: 'waiting' | 'running' | 'done' | 'failed' | 'approval' | 'skipped' | 'aborted' | 'interrupted';
}

export function stepLook(state: StepState): StateLook {
  switch (state) {
    case 'waiting':
      return { label: 'waiting', tone: 'waiting' };
    case 'running':
      return { label: 'running', tone: 'running' };
    case 'done':
      return { label: 'done', tone: 'done' };
    case 'failed':
      return { label: 'failed', tone: 'failed' };
    case 'awaitingApproval':
      return { label: 'needs approval', tone: 'approval' };
    case 'skipped':
      return { label: 'skipped', tone: 'skipped' };
    default:
      return { label: String(state), tone: 'waiting' };
  }
}

export function instanceLook(state: InstanceState): StateLook {
  switch (state) {
    case 'running':
      return { label: 'running', tone: 'running' };
    case 'interrupted':
      return { label: 'interrupted', tone: 'interrupted' };
    case 'incident':
      return { label: 'incident', tone: 'failed' };
    case 'awaitingApproval':
      return { label: 'needs approval', tone: 'approval' };
    case 'complete':
      return { label: 'complete', tone: 'done' };
    case 'aborted':
      return { label: 'aborted', tone: 'aborted' };
    default:
      return { label: String(state), tone: 'waiting' };
  }
}

/** The decisions the server accepts in an instance's state (the rest it refuses with 409). */
export function allowedActions(state: InstanceState): InstanceAction[] {
  switch (state) {
    case 'incident':
      return ['retry', 'skip', 'abort', 'resume'];
    case 'awaitingApproval':
      return ['approve', 'abort'];
    case 'interrupted':
      return ['resume', 'abort'];
    case 'running':
      return ['abort'];
    default:
      return [];
  }
}

/**
 * What the decision panel says after an action: the step decided and, when another failed parallel branch's incident still
 * holds the instance suspended, which step's (in the journal's words).
 */
export function actionResultText(action: InstanceAction, r: ActionResult): string {
  if (r.detail) return `${action}: ${r.detail}`;
  if (action === 'resume' && !r.done) return 'resume: it runs already';
  const held = r.suspendedBy ?? [];
  const still =
    held.length === 0
      ? ''
      : `; the instance stays suspended until the incident${held.length > 1 ? 's' : ''} of step${held.length > 1 ? 's' : ''} ${held.map((i) => i.step).join(', ')} ${held.length > 1 ? 'have' : 'has'} a decision too`;
  return `${action}${r.step ? ` step ${r.step}` : ''}: ${r.done ? 'done' : 'not done'}${still}`;
}

/** retry, skip and abort need a reason (the journal keeps it); approve and resume take one optionally. */
export function reasonRequired(action: InstanceAction): boolean {
  return action === 'retry' || action === 'skip' || action === 'abort';
}

/** Instances that wait for a person: an incident or an approval, oldest first (the longest waiting on top). */
export function waitingForSomeone(instances: readonly InstanceView[]): InstanceView[] {
  return instances.filter((i) => i.state === 'incident' || i.state === 'awaitingApproval').sort((a, b) => a.created.localeCompare(b.created));
}

export interface InstanceFilter {
  states: InstanceState[];
  definition: string;
  text: string;
}

/** Client-side filter over the list (the server filters state/definition/server too; text matches id, server, definition). */
export function filterInstances(instances: readonly InstanceView[], f: InstanceFilter): InstanceView[] {
  const text = f.text.trim().toLowerCase();
  return instances.filter(
    (i) =>
      (f.states.length === 0 || f.states.includes(i.state)) &&
      (f.definition === '' || i.definition === f.definition) &&
      (text === '' || [i.id, i.server ?? '', i.definition].some((s) => s.toLowerCase().includes(text))),
  );
}

/** Journal entries merged by id (an SSE reconnect may repeat some), oldest first, at most max kept (the newest). */
export function mergeJournal(entries: readonly JournalEntry[], more: readonly JournalEntry[], max = 5000): JournalEntry[] {
  if (more.length === 0) return entries as JournalEntry[];
  const last = entries.length > 0 ? entries[entries.length - 1].id : -Infinity;
  let merged: JournalEntry[];
  if (more.every((e, i) => e.id > last && (i === 0 || e.id > more[i - 1].id))) {
    merged = [...entries, ...more];
  } else {
    const byId = new Map(entries.map((e) => [e.id, e]));
    for (const e of more) byId.set(e.id, e);
    merged = [...byId.values()].sort((a, b) => a.id - b.id);
  }
  return merged.length > max ? merged.slice(merged.length - max) : merged;
}

/** The last n output lines of a host job (the live tail). */
export function outputTail(entries: readonly JournalEntry[], jobId: string | null, n = 200): string[] {
  const lines: string[] = [];
  for (let i = entries.length - 1; i >= 0 && lines.length < n; i--) {
    const e = entries[i];
    if (e.kind === 'jobOutput' && (jobId === null || e.jobId === jobId)) lines.push(e.message);
  }
  return lines.reverse();
}

/** The edges of an instance's steps: from each step it runs after (a chain when the server names none). */
export function runEdges(steps: readonly StepView[], ids: readonly string[]): { id: string; source: string; target: string }[] {
  const nodeOf = new Map(steps.map((s, i) => [s.id, ids[i]]));
  return steps.flatMap((s, i) => {
    const before = s.after ?? (i > 0 ? [steps[i - 1].id] : []);
    return before.filter((b) => nodeOf.has(b)).map((b) => ({ id: `e-${nodeOf.get(b)}-${ids[i]}`, source: nodeOf.get(b)!, target: ids[i] }));
  });
}
