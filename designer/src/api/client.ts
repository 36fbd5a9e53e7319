import type { ActivityInfo } from '../model/types';
import { readSse, type SseEvent } from './sse';
import type {
  ActionResult,
  ApiDefinitionGraph,
  ApiDefinitionSummary,
  FileDiff,
  InstanceAction,
  InstanceView,
  JournalEntry,
  ProblemDetails,
} from './types';

const TOKEN_KEY = 'jailwf.token';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An answer other than 2xx: the status and the problem details (RFC 9457) when the server sent them. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: ProblemDetails,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

export interface ApiOptions {
  /** Base URL; '' = same origin (the server serves designer/dist). */
  baseUrl?: string;
  token?: () => string | null;
  fetch?: typeof fetch;
}

/** The JailWorkflows HTTP API (docs/api.md of the server), every call with Authorization: Bearer <token>. */
export class ApiClient {
  private readonly baseUrl: string;
  private readonly token: () => string | null;
  private readonly fetchFn: typeof fetch;

  constructor(options: ApiOptions = {}) {
    this.baseUrl = options.baseUrl ?? '';
    this.token = options.token ?? getToken;
    this.fetchFn = options.fetch ?? ((...a) => fetch(...a));
  }

  private headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { Accept: 'application/json', ...extra };
    const t = this.token();
    if (t) h.Authorization = `Bearer ${t}`;
    return h;
  }

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.fetchFn(this.baseUrl + path, {
      method,
      headers: this.headers(body === undefined ? undefined : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (!res.ok) {
      let problem: ProblemDetails = { status: res.status, title: res.statusText };
      try {
        problem = (await res.json()) as ProblemDetails;
      } catch {
        // not JSON: keep the status text
      }
      throw new ApiError(res.status, problem);
    }
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  health = () => this.request<{ pid: number; database: string; version: string }>('GET', '/api/v1/health');
  activities = () => this.request<ActivityInfo[]>('GET', '/api/v1/activities');
  definitions = () => this.request<ApiDefinitionSummary[]>('GET', '/api/v1/definitions');
  definition = (id: string, version?: number) =>
    this.request<ApiDefinitionGraph>('GET', version === undefined ? `/api/v1/definitions/${enc(id)}` : `/api/v1/definitions/${enc(id)}/versions/${version}`);
  validate = (graph: ApiDefinitionGraph) => this.request<{ valid: boolean; steps: string[] }>('POST', '/api/v1/definitions/validate', graph);
  saveDefinition = (graph: ApiDefinitionGraph) => this.request<ApiDefinitionGraph>('POST', '/api/v1/definitions', graph);

  instances = (filter: { state?: string[]; definition?: string; server?: string } = {}) => {
    const q = new URLSearchParams();
    if (filter.state && filter.state.length > 0) q.set('state', filter.state.join(','));
    if (filter.definition) q.set('definition', filter.definition);
    if (filter.server) q.set('server', filter.server);
    const qs = q.toString();
    return this.request<InstanceView[]>('GET', `/api/v1/instances${qs ? '?' + qs : ''}`);
  };
  instance = (id: string) => this.request<InstanceView>('GET', `/api/v1/instances/${enc(id)}`);
  journal = (id: string, afterId = 0, max = 200) =>
    this.request<{ entries: JournalEntry[]; nextAfterId: number }>('GET', `/api/v1/instances/${enc(id)}/journal?afterId=${afterId}&max=${max}`);
  act = (id: string, action: InstanceAction, reason: string, force = false) =>
    this.request<ActionResult>('POST', `/api/v1/instances/${enc(id)}/${action}`, action === 'skip' ? { reason, force } : { reason });
  /** The differences of the files a merge approval waits on. NOT in the API (docs/api.md) yet: a 404 means "not provided". */
  approvalDiffs = (id: string) => this.request<{ files: FileDiff[] }>('GET', `/api/v1/instances/${enc(id)}/approval/diffs`);

  /**
   * Follows an instance's live updates (SSE over fetch streaming, so the token stays in a header). Reconnects with
   * Last-Event-ID after a dropped connection until the signal aborts; onError hears of each failure.
   */
  async follow(id: string, onEvent: (e: SseEvent) => void, signal: AbortSignal, onError?: (e: unknown) => void): Promise<void> {
    let lastId: string | undefined;
    let delay = 500;
    while (!signal.aborted) {
      try {
        const res = await this.fetchFn(`${this.baseUrl}/api/v1/events?instance=${enc(id)}`, {
          headers: this.headers({ Accept: 'text/event-stream', ...(lastId ? { 'Last-Event-ID': lastId } : {}) }),
          signal,
        });
        if (!res.ok || !res.body) throw new ApiError(res.status, { status: res.status, title: res.statusText });
        delay = 500;
        lastId = (await readSse(res.body, onEvent, signal)) ?? lastId;
      } catch (e) {
        if (signal.aborted) return;
        onError?.(e);
        if (e instanceof ApiError && (e.status === 401 || e.status === 404)) return;
      }
      if (signal.aborted) return;
      await new Promise<void>((r) => {
        const t = setTimeout(r, delay);
        signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
      });
      delay = Math.min(delay * 2, 10_000);
    }
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
