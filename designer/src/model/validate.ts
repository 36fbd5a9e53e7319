import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import type { ActivityInfo, DesignGraph, ValidationIssue } from './types';
import { runOrder } from './order';

/** The activity catalog by name. */
export type Catalog = ReadonlyMap<string, ActivityInfo>;

export function catalogOf(activities: readonly ActivityInfo[]): Catalog {
  return new Map(activities.map((a) => [a.name, a]));
}

export const ID_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;

const ajv = new Ajv2020({ allErrors: true, strict: false });
const compiled = new WeakMap<object, ValidateFunction>();

function validatorFor(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/** Ajv's error as a sentence naming the input, e.g. "missing required input 'start'". */
function inputIssue(e: ErrorObject): { code: 'input' | 'missing-input'; field: string; message: string } {
  const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (e.keyword === 'required') {
    const name = (e.params as { missingProperty: string }).missingProperty;
    return { code: 'missing-input', field: `inputs.${name}`, message: `missing required input '${name}'` };
  }
  if (e.keyword === 'additionalProperties') {
    const name = (e.params as { additionalProperty: string }).additionalProperty;
    return { code: 'input', field: `inputs.${path ? path + '.' : ''}${name}`, message: `unknown input '${path ? path + '.' : ''}${name}'` };
  }
  return { code: 'input', field: `inputs${path ? '.' + path : ''}`, message: `input '${path || '(inputs)'}' ${e.message ?? 'is invalid'}` };
}

function timeZoneKnown(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Checks beyond the input schemas, as ActivityCatalog's CheckInputs does on the server. */
function extraInputChecks(activity: string, inputs: Record<string, unknown>): { field: string; message: string }[] {
  if (activity === 'WaitForWindow' && typeof inputs.timeZone === 'string' && !timeZoneKnown(inputs.timeZone)) {
    return [{ field: 'inputs.timeZone', message: `unknown time zone '${inputs.timeZone}'` }];
  }
  return [];
}

/**
 * Every reason the graph cannot be saved as a definition (empty when it can), with the node or edge to show it at.
 * The steps form one structured fork/join flow: one first step, no cycle, no edge to nothing, every step connected, and
 * the branches of each fork meet again at one join step (the server's DefinitionLoader says the same, in the same words).
 * Each step is checked as the server checks it (id, activity, inputs against its schema, retry).
 */
export function validateGraph(graph: DesignGraph, catalog: Catalog): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const { meta, nodes, edges } = graph;

  if (typeof meta.id !== 'string' || !ID_PATTERN.test(meta.id)) {
    issues.push({ code: 'definition', field: 'id', message: 'the definition id must be lower case letters, digits and dashes, starting with a letter (at most 64)' });
  }
  if (!Number.isInteger(meta.version) || meta.version < 1) {
    issues.push({ code: 'definition', field: 'version', message: 'the version must be a whole number of 1 or more' });
  }
  if (meta.title !== undefined && meta.title.length > 200) issues.push({ code: 'definition', field: 'title', message: 'the title is longer than 200 characters' });
  if (meta.description !== undefined && meta.description.length > 4000) {
    issues.push({ code: 'definition', field: 'description', message: 'the description is longer than 4000 characters' });
  }
  if (meta.scope !== undefined && meta.scope !== 'server' && meta.scope !== 'jailHost') {
    issues.push({ code: 'definition', field: 'scope', message: "the scope must be 'server' or 'jailHost'" });
  }
  if (nodes.length === 0) issues.push({ code: 'empty', message: 'a workflow needs at least one step' });

  // Structure: one flow from one first step.
  const nodeIds = new Set(nodes.map((n) => n.id));
  const out = new Map<string, string[]>();
  const inc = new Map<string, string[]>();
  let dangling = false;
  for (const e of edges) {
    if (!nodeIds.has(e.source) || !nodeIds.has(e.target)) {
      const at = nodeIds.has(e.source) ? e.source : nodeIds.has(e.target) ? e.target : undefined;
      issues.push({ code: 'dangling-edge', edgeId: e.id, nodeId: at, message: 'an edge leads to or from no step' });
      dangling = true;
      continue;
    }
    out.set(e.source, [...(out.get(e.source) ?? []), e.target]);
    inc.set(e.target, [...(inc.get(e.target) ?? []), e.source]);
  }
  const onCycle = nodesOnCycles(nodes.map((n) => n.id), out);
  for (const id of onCycle) {
    const n = nodes.find((x) => x.id === id)!;
    issues.push({ code: 'cycle', nodeId: id, message: `'${n.step.id}' is on a cycle: a workflow runs each step once` });
  }
  let connected = true;
  if (nodes.length > 1 && onCycle.size === 0) {
    const starts = nodes.filter((n) => !inc.has(n.id));
    if (starts.length > 1) {
      connected = false;
      // The largest flow counts as the workflow; every other start is off it.
      const reach = (id: string, seen = new Set<string>()): number => {
        if (seen.has(id)) return 0;
        seen.add(id);
        return 1 + (out.get(id) ?? []).reduce((sum, t) => sum + reach(t, seen), 0);
      };
      const main = starts.reduce((a, b) => (reach(b.id) > reach(a.id) ? b : a));
      for (const s of starts) {
        if (s !== main) issues.push({ code: 'disconnected', nodeId: s.id, message: `'${s.step.id}' is not connected: the steps must form one flow from one first step` });
      }
    }
  }
  if (nodes.length > 1 && onCycle.size === 0 && !dangling && connected) {
    const order = runOrder(graph);
    if (order) {
      const index = new Map(order.map((n, i) => [n.id, i]));
      const shape = forkJoinProblems(
        order.map((n) => n.step.id),
        order.map((n) => (inc.get(n.id) ?? []).map((p) => index.get(p)!).sort((a, b) => a - b)),
      );
      for (const p of shape) issues.push({ code: p.code, nodeId: order[p.step].id, message: p.message });
    }
  }

  // Steps.
  const seenIds = new Map<string, string>();
  for (const n of nodes) {
    const s = n.step;
    if (typeof s.id !== 'string' || !ID_PATTERN.test(s.id)) {
      issues.push({ code: 'step-id', nodeId: n.id, field: 'id', message: `step id '${s.id ?? ''}' must be lower case letters, digits and dashes, starting with a letter` });
    } else if (seenIds.has(s.id)) {
      issues.push({ code: 'duplicate-step-id', nodeId: n.id, field: 'id', message: `duplicate step id '${s.id}'` });
    } else {
      seenIds.set(s.id, n.id);
    }
    if (s.title !== undefined && s.title.length > 200) issues.push({ code: 'step-id', nodeId: n.id, field: 'title', message: 'the title is longer than 200 characters' });
    const activity = catalog.get(s.activity);
    if (!activity) {
      issues.push({ code: 'unknown-activity', nodeId: n.id, field: 'activity', message: `unknown activity '${s.activity}'` });
    } else {
      const inputs = s.inputs ?? {};
      const validate = validatorFor(activity.inputSchema);
      if (!validate(inputs)) {
        for (const e of validate.errors ?? []) issues.push({ nodeId: n.id, ...inputIssue(e) });
      } else {
        for (const x of extraInputChecks(s.activity, inputs)) issues.push({ code: 'input', nodeId: n.id, ...x });
      }
    }
    issues.push(...retryIssues(n.id, s.retry));
  }
  return issues;
}

function retryIssues(nodeId: string, retry: DesignGraph['nodes'][number]['step']['retry']): ValidationIssue[] {
  if (retry === undefined) return [];
  const issues: ValidationIssue[] = [];
  const check = (field: keyof NonNullable<typeof retry>, min: number, max: number, integer: boolean) => {
    const v = retry[field];
    if (v === undefined || v === null) return;
    if (typeof v !== 'number' || (integer && !Number.isInteger(v)) || v < min || v > max) {
      issues.push({ code: 'retry', nodeId, field: `retry.${field}`, message: `retry.${field} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}` });
    }
  };
  check('maxAttempts', 1, 100, true);
  check('backoffSeconds', 0, 86400, false);
  check('maxBackoffSeconds', 0, 86400, false);
  if (typeof retry.backoffSeconds === 'number' && typeof retry.maxBackoffSeconds === 'number' && retry.maxBackoffSeconds < retry.backoffSeconds) {
    issues.push({
      code: 'retry',
      nodeId,
      field: 'retry.maxBackoffSeconds',
      message: `retry.maxBackoffSeconds (${retry.maxBackoffSeconds}) is below retry.backoffSeconds (${retry.backoffSeconds})`,
    });
  }
  return issues;
}

/**
 * The fork/join shape, as the server's StepGraph checks it (same messages): one last step (a branch that ends while the
 * others go on never meets them), and each step after several branches is the join of every branch of one fork. `after`
 * holds each step's predecessors as indexes into `ids`, which is in run order.
 */
export function forkJoinProblems(ids: readonly string[], after: readonly (readonly number[])[]): { step: number; code: 'join' | 'unjoined-branch'; message: string }[] {
  const n = ids.length;
  const next = ids.map(() => [] as number[]);
  after.forEach((preds, i) => preds.forEach((p) => next[p].push(i)));
  const ends = ids.map((_, i) => i).filter((i) => next[i].length === 0);
  if (ends.length > 1) {
    const last = ends[ends.length - 1];
    return ends.slice(0, -1).map((end) => ({
      step: end,
      code: 'unjoined-branch' as const,
      message: `no step runs after step '${ids[end]}', but the definition goes on to '${ids[last]}': the branches of a fork meet again at one join step; list '${ids[end]}' in the 'after' of the step where its branch meets the others`,
    }));
  }
  // Post-dominators; the nearest one of a fork is where its branches meet.
  const pdom: Set<number>[] = new Array(n);
  const join: number[] = new Array(n).fill(-1);
  for (let i = n - 1; i >= 0; i--) {
    const common = new Set<number>(next[i].length > 0 ? pdom[next[i][0]] : []);
    for (const s of next[i].slice(1)) for (const x of [...common]) if (!pdom[s].has(x)) common.delete(x);
    join[i] = common.size > 0 ? Math.min(...common) : -1;
    pdom[i] = common;
    pdom[i].add(i);
  }
  const problems: { step: number; code: 'join'; message: string }[] = [];
  const visited = new Array(n).fill(false);
  let failed = false;
  const series = (start: number, stop: number, fork: number) => {
    let current = start;
    while (current !== stop && !failed) {
      if (visited[current]) {
        const before = after[current].map((p) => `'${ids[p]}'`).join(', ');
        problems.push({
          step: current,
          code: 'join',
          message: fork < 0
            ? `step '${ids[current]}' runs after ${before}, which do not meet at one join step: make it run after one of them only, or after the step where they meet`
            : `step '${ids[current]}' runs after ${before}, which lie in different branches of the fork '${ids[fork]}' (they meet only at '${ids[join[fork]]}'): a step after several branches is their join and runs after every branch of one fork; make it run after one branch only, or let it join all branches of '${ids[fork]}'`,
        });
        failed = true;
        return;
      }
      visited[current] = true;
      if (next[current].length === 0) return;
      if (next[current].length === 1) {
        current = next[current][0];
        continue;
      }
      const meet = join[current];
      for (const s of next[current]) if (s !== meet) series(s, meet, current);
      current = meet;
    }
  };
  if (n > 0) series(0, -1, -1);
  return problems;
}

/** Nodes that lie on a directed cycle (Tarjan's strongly connected components; a self-loop counts). */
function nodesOnCycles(ids: string[], out: Map<string, string[]>): Set<string> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const result = new Set<string>();
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of out.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (out.get(v) ?? []).includes(v)) component.forEach((c) => result.add(c));
    }
  };
  for (const id of ids) if (!index.has(id)) visit(id);
  return result;
}

/** Issues by node id, for showing them at the nodes. */
export function issuesByNode(issues: readonly ValidationIssue[]): Map<string, ValidationIssue[]> {
  const map = new Map<string, ValidationIssue[]>();
  for (const i of issues) {
    if (i.nodeId === undefined) continue;
    map.set(i.nodeId, [...(map.get(i.nodeId) ?? []), i]);
  }
  return map;
}

/**
 * Places the server's definition errors (paths such as steps[2].inputs.start, from DefinitionLoader) at the nodes:
 * steps[i] is the i-th step in run order.
 */
export function serverErrorsToIssues(errors: readonly { path: string; message: string }[], order: readonly { id: string }[]): ValidationIssue[] {
  return errors.map((e) => {
    const m = /^steps\[(\d+)\]\.?(.*)$/.exec(e.path);
    const node = m ? order[Number(m[1])] : undefined;
    return { code: 'definition', message: e.message, nodeId: node?.id, field: m ? m[2] || undefined : e.path };
  });
}
