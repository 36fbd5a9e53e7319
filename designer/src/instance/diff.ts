export type DiffLineKind = 'file' | 'hunk' | 'add' | 'del' | 'context' | 'meta';

export interface DiffLine {
  kind: DiffLineKind;
  text: string;
  /** Line numbers in the old and the new file (context, del: old; context, add: new). */
  oldLine?: number;
  newLine?: number;
}

/**
 * Reads a unified diff (diff -u) into lines to show, with their line numbers. A hunk's header counts its lines, so a
 * removed line that starts with "-- " is not taken for a file header.
 */
export function parseUnifiedDiff(diff: string): DiffLine[] {
  const out: DiffLine[] = [];
  let oldNo = 0;
  let newNo = 0;
  let oldLeft = 0;
  let newLeft = 0;
  const lines = diff.replace(/\r\n/g, '\n').split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (const text of lines) {
    if (oldLeft > 0 || newLeft > 0) {
      if (text.startsWith('+')) {
        out.push({ kind: 'add', text: text.slice(1), newLine: newNo++ });
        newLeft--;
        continue;
      }
      if (text.startsWith('-')) {
        out.push({ kind: 'del', text: text.slice(1), oldLine: oldNo++ });
        oldLeft--;
        continue;
      }
      if (text.startsWith(' ') || text === '') {
        out.push({ kind: 'context', text: text.slice(1), oldLine: oldNo++, newLine: newNo++ });
        oldLeft--;
        newLeft--;
        continue;
      }
    }
    const h = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(text);
    if (h) {
      oldNo = Number(h[1]);
      oldLeft = h[2] === undefined ? 1 : Number(h[2]);
      newNo = Number(h[3]);
      newLeft = h[4] === undefined ? 1 : Number(h[4]);
      out.push({ kind: 'hunk', text });
      continue;
    }
    if (text.startsWith('--- ') || text.startsWith('+++ ')) out.push({ kind: 'file', text });
    else out.push({ kind: 'meta', text });
  }
  return out;
}
