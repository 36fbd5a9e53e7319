import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ActivityInfo, WorkflowDefinition } from '../src/model/types';
import { catalogOf } from '../src/model/validate';

/** The repository's root (designer/ is one level below it). */
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The real catalog, read from the server's source (ActivityCatalog.cs): each activity's name and input schema, so the
 * tests check against the schemas the engine uses, not copies.
 */
export function realCatalog(): ActivityInfo[] {
  const cs = readFileSync(join(repo, 'src/JailWorkflows.Engine/Activities/ActivityCatalog.cs'), 'utf8');
  const noInputs = { type: 'object', additionalProperties: false, properties: {} };
  const out: ActivityInfo[] = [];
  const re = /new\(\s*"(?<name>[A-Za-z]+)",\s*typeof\(\w+\),\s*"(?<desc>(?:[^"\\]|\\.)*)",\s*RecoveryPolicy\.(?<rec>\w+),\s*(?:NoInputs|"""(?<schema>[\s\S]*?)""")/g;
  for (const m of cs.matchAll(re)) {
    const g = m.groups!;
    out.push({
      name: g.name,
      description: g.desc,
      recovery: g.rec[0].toLowerCase() + g.rec.slice(1),
      inputSchema: g.schema ? JSON.parse(g.schema) : noInputs,
    });
  }
  return out;
}

export const catalog = catalogOf(realCatalog());

export function workflowFile(name: string): WorkflowDefinition {
  return JSON.parse(readFileSync(join(repo, 'workflows', name), 'utf8')) as WorkflowDefinition;
}
