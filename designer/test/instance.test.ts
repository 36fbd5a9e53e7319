import { describe, expect, it } from 'vitest';
import type { InstanceView, JournalEntry } from '../src/api/types';
import { currentJob, formatBytes, formatEta, jobProgress, stagePercent } from '../src/instance/progress';
import { actionResultText, allowedActions, filterInstances, mergeJournal, outputTail, reasonRequired, runEdges, stepLook, waitingForSomeone } from '../src/instance/state';
import { parseUnifiedDiff } from '../src/instance/diff';

let nextId = 1;
function entry(kind: JournalEntry['kind'], message: string, jobId: string | null = 'job-1', timestamp = '2025-01-01T00:00:00Z'): JournalEntry {
  return { id: nextId++, instanceId: 'i', timestamp, step: 'transfer', kind, message, jobId };
}

describe('transfer progress', () => {
  it('reads percent and ETA from the Progress entries, bytes from dump\'s estimate', () => {
    const entries = [
      entry('jobStarted', 'host job job-1 started'),
      entry('jobOutput', '  DUMP: estimated 204800 tape blocks.'),
      entry('progress', 'partition /usr: 12.5% done, 0:42 left'),
      entry('jobOutput', '  DUMP: 45.23% done, finished in 0:10 at Mon Jan  1 00:10:00 2025'),
      entry('progress', 'partition /usr: 45.23% done, 0:10 left'),
    ];
    expect(jobProgress(entries, currentJob(entries))).toEqual({
      label: 'partition /usr',
      percent: 45.23,
      etaSeconds: 600,
      bytesTotal: 204800 * 1024,
      bytesDone: Math.round(204800 * 1024 * 0.4523),
      jobId: 'job-1',
    });
  });

  it('reads "finishing soon" as no time left, and the rate of Linux dump', () => {
    const entries = [entry('jobOutput', 'DUMP: 99.99% done at 2048 kB/s, finished soon'), entry('progress', 'partition /var: 99.99% done, finishing soon')];
    expect(jobProgress(entries, 'job-1')).toMatchObject({ label: 'partition /var', percent: 99.99, etaSeconds: 0, bytesPerSecond: 2048 * 1024 });
  });

  it('forgets the previous partition\'s size when the next partition starts', () => {
    const entries = [
      entry('jobOutput', 'DUMP: estimated 100 tape blocks.'),
      entry('progress', 'partition /: 50% done, 0:01 left'),
      entry('progress', 'partition /usr: 5% done, 1:02 left'),
    ];
    const p = jobProgress(entries, 'job-1')!;
    expect(p).toMatchObject({ label: 'partition /usr', percent: 5, etaSeconds: 3720 });
    expect(p.bytesTotal).toBeUndefined();
  });

  it('ignores entries of other jobs and says nothing without progress', () => {
    const entries = [entry('progress', 'partition /: 50% done, 0:01 left', 'other'), entry('jobOutput', 'restore: ok')];
    expect(jobProgress(entries, 'job-1')).toBeNull();
  });
});

describe('build progress', () => {
  it('reads buildworld\'s stage banners and estimates the time left from the time so far', () => {
    const entries = [
      entry('jobOutput', '>>> World build started on Wed Jan  1 00:00:00 UTC 2025', 'w', '2025-01-01T00:00:00Z'),
      entry('jobOutput', '>>> Stage 1.1: legacy release compatibility shims', 'w', '2025-01-01T00:00:01Z'),
      entry('jobOutput', '>>> Stage 4.2: building libraries', 'w', '2025-01-01T00:30:00Z'),
    ];
    const p = jobProgress(entries, 'w', new Date('2025-01-01T00:30:00Z'))!;
    const pct = stagePercent('4.2')!;
    expect(p.label).toBe('buildworld stage 4.2: building libraries');
    expect(p.percent).toBeCloseTo(pct);
    expect(p.etaSeconds).toBe(Math.round((1800 * (100 - pct)) / pct));
    entries.push(entry('jobOutput', '>>> World build completed on Wed Jan  1 01:00:00 UTC 2025', 'w'));
    expect(jobProgress(entries, 'w')).toMatchObject({ percent: 100, etaSeconds: 0 });
  });

  it('orders the stages', () => {
    expect(stagePercent('1.1')).toBe(0);
    expect(stagePercent('3')!).toBeLessThan(stagePercent('4.1')!);
    expect(stagePercent('4.3')!).toBeLessThan(100);
    expect(stagePercent('9.9')).toBeUndefined();
  });
});

describe('current job and tail', () => {
  it('knows the running job and shows its output only', () => {
    const entries = [
      entry('jobStarted', 's', 'a'),
      entry('jobOutput', 'a1', 'a'),
      entry('jobFinished', 'f', 'a'),
      entry('jobStarted', 's', 'b'),
      entry('jobOutput', 'b1', 'b'),
      entry('jobOutput', 'b2', 'b'),
    ];
    expect(currentJob(entries)).toBe('b');
    expect(outputTail(entries, 'b')).toEqual(['b1', 'b2']);
    expect(outputTail(entries, 'b', 1)).toEqual(['b2']);
    expect(currentJob(entries.slice(0, 3))).toBeNull();
  });

  it('merges journal pages and SSE repeats by id, in order, capped', () => {
    const a = [entry('info', '1'), entry('info', '2')];
    const b = [entry('info', '3')];
    const merged = mergeJournal(a, [...b, a[1]]);
    expect(merged.map((e) => e.message)).toEqual(['1', '2', '3']);
    expect(mergeJournal(merged, [entry('info', '4')], 2).map((e) => e.message)).toEqual(['3', '4']);
  });
});

describe('formatting', () => {
  it('formats bytes and ETA', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(200 * 1024 * 1024)).toBe('200 MiB');
    expect(formatEta(7)).toBe('0:07');
    expect(formatEta(3909)).toBe('1:05:09');
  });
});

function instance(id: string, state: InstanceView['state'], created: string, extra: Partial<InstanceView> = {}): InstanceView {
  return { id, definition: 'consolidate-server', version: 2, server: 'ServerA', status: 'runnable', state, created, steps: [], ...extra };
}

describe('state mapping', () => {
  it('names the step states as people say them', () => {
    expect(stepLook('awaitingApproval')).toEqual({ label: 'needs approval', tone: 'approval' });
    expect(['waiting', 'running', 'done', 'failed', 'skipped'].map((s) => stepLook(s as never).label)).toEqual(['waiting', 'running', 'done', 'failed', 'skipped']);
  });

  it('offers only the actions the server accepts in each state', () => {
    expect(allowedActions('incident')).toEqual(['retry', 'skip', 'abort', 'resume']);
    expect(allowedActions('awaitingApproval')).toEqual(['approve', 'abort']);
    expect(allowedActions('interrupted')).toEqual(['resume', 'abort']);
    expect(allowedActions('complete')).toEqual([]);
    expect(allowedActions('aborted')).toEqual([]);
    expect(['retry', 'skip', 'abort'].every((a) => reasonRequired(a as never))).toBe(true);
    expect(reasonRequired('approve')).toBe(false);
  });

  it('says which step a decision took and which incident still holds the instance suspended', () => {
    const id = 'i';
    expect(actionResultText('resume', { instance: id, step: 'start', done: true, detail: null, runnable: false, suspendedBy: [{ incident: 8, step: 'verify' }] })).toBe(
      'resume step start: done; the instance stays suspended until the incident of step verify has a decision too',
    );
    expect(actionResultText('skip', { instance: id, step: 'a', done: true, runnable: false, suspendedBy: [{ incident: 2, step: 'b' }, { incident: 3, step: 'c' }] })).toBe(
      'skip step a: done; the instance stays suspended until the incidents of steps b, c have a decision too',
    );
    expect(actionResultText('retry', { instance: id, step: 'verify', done: true, runnable: true, suspendedBy: [] })).toBe('retry step verify: done');
    // An older server's answer (no runnable/suspendedBy), an interrupted instance, abort and approve.
    expect(actionResultText('retry', { instance: id, step: 'verify', done: true })).toBe('retry step verify: done');
    expect(actionResultText('resume', { instance: id, step: 'transfer', done: false, runnable: true, suspendedBy: [] })).toBe('resume: it runs already');
    expect(actionResultText('abort', { instance: id, step: null, done: true, detail: null })).toBe('abort: done');
    expect(actionResultText('approve', { instance: id, step: 'mergeetc', done: true, detail: 'etc/group' })).toBe('approve: etc/group');
  });

  it('lists who waits for someone, longest waiting first, and filters', () => {
    const list = [
      instance('c', 'complete', '2025-01-03'),
      instance('b', 'awaitingApproval', '2025-01-02', { server: 'ServerB' }),
      instance('a', 'incident', '2025-01-01', { definition: 'upgrade-jail' }),
    ];
    expect(waitingForSomeone(list).map((i) => i.id)).toEqual(['a', 'b']);
    expect(filterInstances(list, { states: ['complete', 'incident'], definition: '', text: '' }).map((i) => i.id)).toEqual(['c', 'a']);
    expect(filterInstances(list, { states: [], definition: 'upgrade-jail', text: '' }).map((i) => i.id)).toEqual(['a']);
    expect(filterInstances(list, { states: [], definition: '', text: 'serverb' }).map((i) => i.id)).toEqual(['b']);
  });
});

describe('unified diff', () => {
  it('reads hunks with line numbers, a removed line starting with "-- " too', () => {
    const diff = ['--- etc/group', '+++ etc/group.new', '@@ -1,3 +1,3 @@', ' wheel:*:0:root', '--- old comment', '+operator:*:5:root', ' kmem:*:2:', '\\ No newline at end of file'].join('\n');
    expect(parseUnifiedDiff(diff)).toEqual([
      { kind: 'file', text: '--- etc/group' },
      { kind: 'file', text: '+++ etc/group.new' },
      { kind: 'hunk', text: '@@ -1,3 +1,3 @@' },
      { kind: 'context', text: 'wheel:*:0:root', oldLine: 1, newLine: 1 },
      { kind: 'del', text: '-- old comment', oldLine: 2 },
      { kind: 'add', text: 'operator:*:5:root', newLine: 2 },
      { kind: 'context', text: 'kmem:*:2:', oldLine: 3, newLine: 3 },
      { kind: 'meta', text: '\\ No newline at end of file' },
    ]);
  });
});

describe('runEdges (the instance graph)', () => {
  const step = (id: string, after?: string[]) => ({ id, title: id, activity: 'Strip', state: 'waiting' as const, ...(after ? { after } : {}) });
  it('draws each step after the steps it runs after: a fork and its join', () => {
    const steps = [step('preflight', []), step('buildworld', ['preflight']), step('transfer', ['preflight']), step('cutover-approval', ['buildworld', 'transfer'])];
    const ids = steps.map((s, i) => `${i}-${s.id}`);
    expect(runEdges(steps, ids).map((e) => [e.source, e.target])).toEqual([
      ['0-preflight', '1-buildworld'],
      ['0-preflight', '2-transfer'],
      ['1-buildworld', '3-cutover-approval'],
      ['2-transfer', '3-cutover-approval'],
    ]);
  });
  it('chains the steps in order when the server names no after', () => {
    const steps = [step('a'), step('b'), step('c')];
    expect(runEdges(steps, ['x', 'y', 'z']).map((e) => [e.source, e.target])).toEqual([
      ['x', 'y'],
      ['y', 'z'],
    ]);
  });
});
