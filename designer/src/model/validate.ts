import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import type { ActivityInfo, DesignGraph, ValidationIssue } from './types';

/** The activity catalog by name. */
export type Catalog = ReadonlyMap<string, ActivityInfo>;

export function catalogOf(activities: readonly ActivityInfo[]): Catalog {
  return new Map(activities.map((a) => [a.name, a]));
}

export const ID_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;
export const BRANCH_MESSAGE = 'branches are not supported by the engine yet';

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
 * The engine runs one chain of steps: a branch or a join, a cycle, an edge to nothing or a step off the chain are errors,
 * and each step is checked as the server's DefinitionLoader checks it (id, activity, inputs against its schema, retry).
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

  // Structure: one chain.
  const nodeIds = new Set(nodes.map((n) => n.id));
  const out = new Map<string, string[]>();
  const inc = new Map<string, string[]>();
  for (const e of edges) {
    if (!nodeIds.has(e.source) || !nodeIds.has(e.target)) {
      const at = nodeIds.has(e.source) ? e.source : nodeIds.has(e.target) ? e.target : undefined;
      issues.push({ code: 'dangling-edge', edgeId: e.id, nodeId: at, message: 'an edge leads to or from no step' });
      continue;
    }
    out.set(e.source, [...(out.get(e.source) ?? []), e.target]);
    inc.set(e.target, [...(inc.get(e.target) ?? []), e.source]);
  }
  for (const n of nodes) {
    if ((out.get(n.id)?.length ?? 0) > 1) issues.push({ code: 'branch', nodeId: n.id, message: `${BRANCH_MESSAGE}: '${n.step.id}' leads to ${out.get(n.id)!.length} steps` });
    if ((inc.get(n.id)?.length ?? 0) > 1) issues.push({ code: 'branch', nodeId: n.id, message: `${BRANCH_MESSAGE}: ${inc.get(n.id)!.length} steps lead to '${n.step.id}'` });
  }
  const onCycle = nodesOnCycles(nodes.map((n) => n.id), out);
  for (const id of onCycle) {
    const n = nodes.find((x) => x.id === id)!;
    issues.push({ code: 'cycle', nodeId: id, message: `'${n.step.id}' is on a cycle: a workflow runs each step once, in order` });
  }
  if (nodes.length > 1 && onCycle.size === 0) {
    const starts = nodes.filter((n) => !inc.has(n.id));
    if (starts.length > 1) {
      // The longest chain counts as the workflow; every other start is off it.
      const reach = (id: string, seen = new Set<string>()): number => {
        if (seen.has(id)) return 0;
        seen.add(id);
        return 1 + Math.max(0, ...(out.get(id) ?? []).map((t) => reach(t, seen)));
      };
      const main = starts.reduce((a, b) => (reach(b.id) > reach(a.id) ? b : a));
      for (const s of starts) {
        if (s !== main) issues.push({ code: 'disconnected', nodeId: s.id, message: `'${s.step.id}' is not connected: the steps must form one chain` });
      }
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
