using System.Globalization;
using System.Text;
using System.Text.Json;
using JailWorkflows.Engine;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace JailWorkflows.Server.Api;

/// <summary>
/// <c>GET /api/v1/events?instance=&lt;id&gt;</c>: Server-Sent Events of one instance (docs/api.md). The instance (event
/// <c>instance</c>) on connect and whenever its state or a step's state changes; every journal entry (event <c>journal</c>, SSE id =
/// journal id) in order; a comment every 15 s. The store is looked at every 250 ms and read only when something was committed
/// (<see cref="JailWorkflows.Engine.Store.StoreChanges"/>) or 5 s passed (read-only queries); resumes after
/// <c>Last-Event-ID</c> (or <c>afterId</c>).
/// </summary>
internal static class EventStream
{
    /// <summary>How often the store is read for each connection.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>How often the instance is read even when nothing was committed (its state can change without a commit).</summary>
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(5);

    /// <summary>How long a stream may stay silent before a keep-alive comment.</summary>
    public static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    private const int Batch = 500;

    public static async Task<IResult> RunAsync(
        HttpContext http,
        string? instance,
        long? afterId,
        JailwfEngine engine,
        IHostApplicationLifetime lifetime,
        TimeProvider time,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json)
    {
        if (string.IsNullOrWhiteSpace(instance))
        {
            return ApiProblems.Validation("Invalid request", new Dictionary<string, string[]> { ["instance"] = ["the instance id is required (?instance=<id>)"] }, StatusCodes.Status400BadRequest);
        }

        var id = await ControlApi.ResolveAsync(engine, instance, http.RequestAborted).ConfigureAwait(false);
        var last = afterId ?? 0;
        if (afterId is null && long.TryParse(http.Request.Headers["Last-Event-ID"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var resumed))
        {
            last = resumed;
        }

        var options = json.Value.SerializerOptions;
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        var ct = stop.Token;
        var body = http.Response.Body;
        string? shown = null;
        var quietSince = time.GetUtcNow();
        try
        {
            var changes = await engine.Queries.WatchChangesAsync(time, ct).ConfigureAwait(false);
            await using var changesScope = changes.ConfigureAwait(false);
            await body.FlushAsync(ct).ConfigureAwait(false);
            while (!ct.IsCancellationRequested)
            {
                var wrote = false;

                // Journal entries and state changes come only with a commit; the state may also change without one (an
                // engine that died reads Interrupted), so the view is read at least every Refresh.
                if (await changes.ReadDueAsync(Refresh, ct).ConfigureAwait(false))
                {
                    wrote = await SendChangesAsync().ConfigureAwait(false);
                }

                var now = time.GetUtcNow();
                if (wrote)
                {
                    quietSince = now;
                }
                else if (now - quietSince >= KeepAlive)
                {
                    await body.WriteAsync(": keep-alive\n\n"u8.ToArray(), ct).ConfigureAwait(false);
                    quietSince = now;
                    wrote = true;
                }

                if (wrote)
                {
                    await body.FlushAsync(ct).ConfigureAwait(false);
                }

                await Task.Delay(PollInterval, time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away or serve stops.
        }
        catch (IOException)
        {
            // The connection broke.
        }

        return Results.Empty;

        async Task<bool> SendChangesAsync()
        {
            var wrote = false;
            var view = await engine.Queries.ViewAsync(id, ct).ConfigureAwait(false);
            if (view is not null && Signature(view) is var signature && signature != shown)
            {
                shown = signature;
                await WriteAsync(body, null, "instance", JsonSerializer.Serialize(view, options), ct).ConfigureAwait(false);
                wrote = true;
            }

            while (true)
            {
                var entries = await engine.Queries.JournalAsync(id, last, Batch, ct).ConfigureAwait(false);
                foreach (var entry in entries)
                {
                    await WriteAsync(body, entry.Id, "journal", JsonSerializer.Serialize(entry, options), ct).ConfigureAwait(false);
                    last = entry.Id;
                    wrote = true;
                }

                if (entries.Count < Batch)
                {
                    break;
                }
            }

            return wrote;
        }
    }

    /// <summary>What an <c>instance</c> event is sent again for: the instance's state and its steps' states (not its newest output line).</summary>
    private static string Signature(InstanceView view) =>
        string.Join(
            '|',
            view.Status,
            view.State,
            view.Completed?.Ticks,
            view.Incident?.Id,
            view.Approval?.EventKey,
            string.Join(',', view.Steps.Select(s => $"{s.Id}:{s.State}:{s.Failures}:{s.Started?.Ticks}:{s.Ended?.Ticks}")));

    private static async Task WriteAsync(Stream body, long? id, string name, string data, CancellationToken ct)
    {
        var text = new StringBuilder();
        if (id is { } value)
        {
            text.Append(CultureInfo.InvariantCulture, $"id: {value}\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"event: {name}\n");

        // JSON from the serializer has no raw newlines, but a data line must never carry one.
        foreach (var line in data.Split('\n'))
        {
            text.Append(CultureInfo.InvariantCulture, $"data: {line}\n");
        }

        text.Append('\n');
        await body.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()), ct).ConfigureAwait(false);
    }
}
