import type { JournalEntry } from '../api/types';

/** How far the current host job is. */
export interface Progress {
  /** What is in progress, e.g. "partition /usr" or "buildworld stage 4.2: building libraries". */
  label: string;
  /** 0..100. */
  percent: number;
  /** Seconds left, when known. */
  etaSeconds?: number;
  /** Bytes done and in all (transfers: dump's estimate, in 1 KiB blocks). */
  bytesDone?: number;
  bytesTotal?: number;
  /** Bytes per second (Linux dump prints kB/s). */
  bytesPerSecond?: number;
  jobId?: string | null;
}

/** TransferPartitions/Cutover journal Progress entries as "partition /usr: 45.23% done, 0:10 left" (or "finishing soon"). */
const PROGRESS_ENTRY = /^partition (?<item>.+?): (?<pct>\d+(?:\.\d+)?)% done, (?:(?<h>\d+):(?<m>[0-5]\d) left|finishing soon)$/;
/** dump(8)'s own lines in the job output (Dump.ParseStderrLine). */
const DUMP_PROGRESS = /^(?:DUMP:\s*)+(?<pct>\d+(?:\.\d+)?)% done(?: at (?<rate>\d+) kB\/s)?, finished (?:in (?<h>\d+):(?<m>[0-5]\d)|soon)/;
const DUMP_ESTIMATE = /^(?:DUMP:\s*)+estimated (?<n>\d+) (?:tape )?blocks/;
/** buildworld's banners: ">>> Stage 4.2: building libraries", ">>> World build started/completed on ...". */
const BUILD_STAGE = /^>>> Stage (?<n>\d+(?:\.\d+)?): (?<what>.*)$/;
const BUILD_STARTED = /^>>> World build started/;
const BUILD_COMPLETED = /^>>> World build completed/;

/**
 * buildworld's stages in order with a rough share of the build's time each (the share a stage's start marks as done);
 * stages a build leaves out (2.1 and 2.2 with NO_CLEAN, 5.x without lib32) only make the bar jump.
 */
export const BUILD_STAGES: readonly (readonly [string, number])[] = [
  ['1.1', 1],
  ['1.2', 3],
  ['2.1', 1],
  ['2.2', 1],
  ['2.3', 4],
  ['2.4', 1],
  ['3', 15],
  ['3.1', 1],
  ['4.1', 2],
  ['4.2', 15],
  ['4.3', 54],
  ['4.4', 1],
  ['5.1', 1],
  ['5.2', 1],
];
const BUILD_TOTAL = BUILD_STAGES.reduce((a, [, w]) => a + w, 0);

export function stagePercent(stage: string): number | undefined {
  let before = 0;
  for (const [n, w] of BUILD_STAGES) {
    if (n === stage) return (before / BUILD_TOTAL) * 100;
    before += w;
  }
  return undefined;
}

/** The host job the journal says runs last (the newest jobStarted not followed by its jobFinished), or null. */
export function currentJob(entries: readonly JournalEntry[]): string | null {
  const finished = new Set<string>();
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i];
    if (!e.jobId) continue;
    if (e.kind === 'jobFinished') finished.add(e.jobId);
    if (e.kind === 'jobStarted') return finished.has(e.jobId) ? null : e.jobId;
  }
  return null;
}

/**
 * Progress of a host job from its journal entries (oldest first): transfers from the Progress entries (and dump's
 * estimate and rate among the output lines for bytes), builds from buildworld's stage banners (ETA from the time so far).
 * Null when the entries say nothing about progress. now: for the build's ETA.
 */
export function jobProgress(entries: readonly JournalEntry[], jobId: string | null, now: Date = new Date()): Progress | null {
  const mine = jobId === null ? entries : entries.filter((e) => e.jobId === jobId);
  let transfer: Progress | null = null;
  let estimateKiB: number | undefined;
  let rateKiB: number | undefined;
  let build: Progress | null = null;
  let buildStart: number | undefined;
  for (const e of mine) {
    const text = e.message.trim();
    if (e.kind === 'progress') {
      const m = PROGRESS_ENTRY.exec(text);
      if (m?.groups) {
        const g = m.groups;
        if (transfer && transfer.label.startsWith('partition ') && transfer.label !== `partition ${g.item}`) {
          estimateKiB = undefined;
          rateKiB = undefined;
        }
        transfer = {
          label: `partition ${g.item}`,
          percent: clamp(Number(g.pct)),
          etaSeconds: g.h !== undefined ? Number(g.h) * 3600 + Number(g.m) * 60 : 0,
          jobId: e.jobId,
        };
      }
      continue;
    }
    if (e.kind !== 'jobOutput') continue;
    let m = DUMP_ESTIMATE.exec(text);
    if (m?.groups) {
      estimateKiB = Number(m.groups.n);
      continue;
    }
    m = DUMP_PROGRESS.exec(text);
    if (m?.groups) {
      if (m.groups.rate !== undefined) rateKiB = Number(m.groups.rate);
      if (!transfer) {
        transfer = {
          label: 'dump',
          percent: clamp(Number(m.groups.pct)),
          etaSeconds: m.groups.h !== undefined ? Number(m.groups.h) * 3600 + Number(m.groups.m) * 60 : 0,
          jobId: e.jobId,
        };
      }
      continue;
    }
    if (BUILD_STARTED.test(text)) {
      buildStart = Date.parse(e.timestamp);
      build = { label: 'buildworld started', percent: 0, jobId: e.jobId };
      continue;
    }
    m = BUILD_STAGE.exec(text);
    if (m?.groups) {
      buildStart ??= Date.parse(e.timestamp);
      const p = stagePercent(m.groups.n);
      build = { label: `buildworld stage ${m.groups.n}: ${m.groups.what}`, percent: p ?? build?.percent ?? 0, jobId: e.jobId };
      continue;
    }
    if (BUILD_COMPLETED.test(text)) build = { label: 'buildworld completed', percent: 100, etaSeconds: 0, jobId: e.jobId };
  }
  if (transfer) {
    if (estimateKiB !== undefined) {
      transfer.bytesTotal = estimateKiB * 1024;
      transfer.bytesDone = Math.round((transfer.bytesTotal * transfer.percent) / 100);
    }
    if (rateKiB !== undefined) transfer.bytesPerSecond = rateKiB * 1024;
    return transfer;
  }
  if (build) {
    if (build.percent > 0 && build.percent < 100 && buildStart !== undefined && !Number.isNaN(buildStart)) {
      const elapsed = Math.max(0, (now.getTime() - buildStart) / 1000);
      build.etaSeconds = Math.round((elapsed * (100 - build.percent)) / build.percent);
    }
    return build;
  }
  return null;
}

function clamp(p: number): number {
  return Math.min(100, Math.max(0, p));
}

/** "1.5 GiB", "12 KiB", "512 B". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** "1:05:09", "4:10", "0:07" (h:mm:ss or m:ss). */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
