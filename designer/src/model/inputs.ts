/**
 * The inputs a form change should store: the form fills in every schema default, but a definition should only carry
 * what the user set. A key absent before whose new value equals its schema default is dropped again; undefined too.
 */
export function explicitInputs(previous: Record<string, unknown> | undefined, next: Record<string, unknown>, schema: Record<string, unknown>): Record<string, unknown> {
  const props = (schema.properties ?? {}) as Record<string, { default?: unknown }>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(next)) {
    if (v === undefined) continue;
    const wasSet = previous !== undefined && Object.prototype.hasOwnProperty.call(previous, k);
    if (!wasSet && props[k] && 'default' in props[k] && JSON.stringify(props[k].default) === JSON.stringify(v)) continue;
    out[k] = v;
  }
  return out;
}
