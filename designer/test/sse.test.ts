import { describe, expect, it } from 'vitest';
import { SseParser, readSse } from '../src/api/sse';
import { ApiClient } from '../src/api/client';

describe('SseParser', () => {
  it('reads events, ids, multi-line data, and skips comments', () => {
    const p = new SseParser();
    const events = p.feed('event: instance\ndata: {"a":1}\n\n: keep-alive\n\nid: 4711\nevent: journal\ndata: line1\ndata: line2\n\n');
    expect(events).toEqual([
      { event: 'instance', data: '{"a":1}', id: undefined },
      { event: 'journal', data: 'line1\nline2', id: '4711' },
    ]);
    expect(p.lastEventId).toBe('4711');
  });

  it('joins events split anywhere across chunks, CR LF split too', () => {
    const text = 'id: 1\r\nevent: journal\r\ndata: {"x":"y"}\r\n\r\nid: 2\r\ndata:no-space\r\n\r\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const events = [...p.feed(text.slice(0, cut)), ...p.feed(text.slice(cut))];
      expect(events, `cut at ${cut}`).toEqual([
        { event: 'journal', data: '{"x":"y"}', id: '1' },
        { event: 'message', data: 'no-space', id: '2' },
      ]);
    }
  });

  it('dispatches nothing for an event without data, and keeps an unfinished event', () => {
    const p = new SseParser();
    expect(p.feed('event: x\n\ndata: half')).toEqual([]);
    expect(p.feed('\n\n')).toEqual([{ event: 'message', data: 'half', id: undefined }]);
  });

  it('reads a streamed body to its end and returns the last id', async () => {
    const enc = new TextEncoder();
    const chunks = ['id: 7\nevent: jour', 'nal\ndata: {}\n', '\n'];
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        chunks.forEach((s) => c.enqueue(enc.encode(s)));
        c.close();
      },
    });
    const seen: string[] = [];
    expect(await readSse(body, (e) => seen.push(e.event))).toBe('7');
    expect(seen).toEqual(['journal']);
  });
});

describe('ApiClient', () => {
  it('sends the bearer token on every call and the event stream, never in the URL', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const fakeFetch = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      if (url.includes('/events')) {
        return new Response('event: instance\ndata: {"id":"abc"}\n\n', { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
      }
      return new Response('[]', { status: 200, headers: { 'Content-Type': 'application/json' } });
    }) as unknown as typeof fetch;
    const api = new ApiClient({ token: () => 'tok123', fetch: fakeFetch });
    await api.activities();
    const ctl = new AbortController();
    await api.follow('abc', () => ctl.abort(), ctl.signal);
    expect(calls).toHaveLength(2);
    for (const c of calls) {
      expect((c.init.headers as Record<string, string>).Authorization).toBe('Bearer tok123');
      expect(c.url).not.toContain('tok123');
    }
  });

  it('reconnects after the stream drops, resuming with Last-Event-ID, and stops on 404', async () => {
    const seen: (string | undefined)[] = [];
    let n = 0;
    const fakeFetch = (async (_url: string, init: RequestInit) => {
      seen.push((init.headers as Record<string, string>)['Last-Event-ID']);
      n++;
      if (n === 1) return new Response('id: 41\nevent: journal\ndata: {}\n\nid: 42\nevent: journal\ndata: {}\n\n', { status: 200 });
      if (n === 2) return new Response('event: instance\ndata: {}\n\n', { status: 200 });
      return new Response('{}', { status: 404 });
    }) as unknown as typeof fetch;
    const api = new ApiClient({ token: () => 't', fetch: fakeFetch });
    const errors: unknown[] = [];
    const events: string[] = [];
    await api.follow('i', (e) => events.push(`${e.event}:${e.id ?? ''}`), new AbortController().signal, (e) => errors.push(e));
    expect(seen).toEqual([undefined, '42', '42']);
    expect(events).toEqual(['journal:41', 'journal:42', 'instance:']);
    expect(errors).toEqual([expect.objectContaining({ status: 404 })]);
  });

  it('turns a problem answer into an ApiError with its problems', async () => {
    const problem = { title: 'Invalid workflow definition', status: 422, problems: [{ code: 'join', node: 'a', message: 'm' }] };
    const fakeFetch = (async () => new Response(JSON.stringify(problem), { status: 422 })) as unknown as typeof fetch;
    const api = new ApiClient({ token: () => 't', fetch: fakeFetch });
    await expect(api.validate({ id: 'x', steps: [] })).rejects.toMatchObject({ status: 422, problem });
  });

  it('sends the reason, and force only for skip', async () => {
    const bodies: unknown[] = [];
    const fakeFetch = (async (_u: string, init: RequestInit) => {
      bodies.push(JSON.parse(init.body as string));
      return new Response('{"instance":"i","done":true}', { status: 200 });
    }) as unknown as typeof fetch;
    const api = new ApiClient({ token: () => 't', fetch: fakeFetch });
    await api.act('i', 'skip', 'not needed', true);
    await api.act('i', 'approve', 'looked at etc/group');
    expect(bodies).toEqual([{ reason: 'not needed', force: true }, { reason: 'looked at etc/group' }]);
  });
});
