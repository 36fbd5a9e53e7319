using System.Globalization;
using System.Text.Json.Nodes;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Activities;
using JailWorkflows.Engine.Definitions;
using JailWorkflows.Engine.Store;
using JailWorkflows.Plans;
using JailWorkflows.Server.Schedules;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace JailWorkflows.Server.Api;

/// <summary>Answer of <c>GET /api/v1/health</c>.</summary>
/// <param name="Pid">serve's process id.</param>
/// <param name="Database">The engine's database.</param>
/// <param name="Version">The program's version.</param>
public sealed record ApiHealth(int Pid, string Database, string Version);

/// <summary>An activity of the catalog as the API shows it.</summary>
/// <param name="Name">The name used in definitions.</param>
/// <param name="Description">What it does.</param>
/// <param name="Recovery">How it recovers after a crash or failure.</param>
/// <param name="InputSchema">JSON Schema (2020-12) of its inputs.</param>
/// <param name="Retry">Its default retry policy.</param>
/// <param name="Produces">What it leaves for later steps.</param>
/// <param name="Needs">What it needs from earlier steps.</param>
public sealed record ActivityInfo(string Name, string Description, RecoveryPolicy Recovery, JsonNode InputSchema, RetryPolicy Retry, IReadOnlyList<string> Produces, IReadOnlyList<string> Needs);

/// <summary>One version of a definition in the definition list.</summary>
/// <param name="Version">The version.</param>
/// <param name="Title">Its title.</param>
/// <param name="RegisteredAt">When it was stored (UTC), if known.</param>
/// <param name="Instances">How many instances are pinned to it.</param>
public sealed record DefinitionVersionInfo(int Version, string? Title, DateTime? RegisteredAt, int Instances);

/// <summary>A definition in the definition list.</summary>
/// <param name="Id">The id.</param>
/// <param name="Title">The newest version's title.</param>
/// <param name="Scope"><c>server</c> or <c>jailHost</c> (of the newest version).</param>
/// <param name="LatestVersion">The newest version.</param>
/// <param name="Versions">Every version, oldest first.</param>
public sealed record DefinitionInfo(string Id, string? Title, string Scope, int LatestVersion, IReadOnlyList<DefinitionVersionInfo> Versions);

/// <summary>Body of <c>POST /api/v1/instances</c>.</summary>
/// <param name="Definition">The definition id.</param>
/// <param name="Version">The version; null for the newest.</param>
/// <param name="Plan">The plan's YAML text.</param>
/// <param name="Server">One server of the plan; null for every server (server definitions) or none (jail host definitions).</param>
public sealed record StartRequest(string? Definition, int? Version, string? Plan, string? Server);

/// <summary>A page of an instance's journal.</summary>
/// <param name="Entries">The entries, oldest first.</param>
/// <param name="NextAfterId">The <c>afterId</c> for the next page (the last entry's id, or the given one when empty).</param>
public sealed record JournalPage(IReadOnlyList<JournalEntry> Entries, long NextAfterId);

/// <summary>Answer of <c>GET /api/v1/instances/{id}/approval/diffs</c>.</summary>
/// <param name="Files">One unified diff per file the approval is asked for.</param>
public sealed record ApprovalDiffs(IReadOnlyList<ApprovalFileDiff> Files);

/// <summary>The endpoints of the HTTP API under <c>/api/v1</c> (docs/api.md).</summary>
internal static class ApiEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return ApiProblems.From(ex);
            }
        });

        api.MapGet("/health", (ServeOptions options) => TypedResults.Ok(new ApiHealth(Environment.ProcessId, options.DatabasePath, ApiHost.Version)));

        api.MapGet("/activities", () => TypedResults.Ok(ActivityCatalog.All.Values.OrderBy(a => a.Name, StringComparer.Ordinal).Select(Info).ToList()));
        api.MapGet("/activities/{name}", (string name) => ActivityCatalog.All.TryGetValue(name, out var activity)
            ? Results.Ok(Info(activity))
            : throw new KeyNotFoundException($"Unknown activity '{name}' (known: {string.Join(", ", ActivityCatalog.All.Keys.Order(StringComparer.Ordinal))})."));

        api.MapGet("/definitions", ListDefinitionsAsync);
        api.MapGet("/definitions/{id}", (string id, JailwfEngine engine, CancellationToken ct) => GetDefinitionAsync(engine, id, null, ct));
        api.MapGet("/definitions/{id}/versions/{version:int}", (string id, int version, JailwfEngine engine, CancellationToken ct) => GetDefinitionAsync(engine, id, version, ct));
        api.MapPost("/definitions/validate", (DefinitionGraph graph) => TypedResults.Ok(new ValidationResponse(true, DefinitionGraphs.ToDefinition(graph).Order)));
        api.MapPost("/definitions", async (DefinitionGraph graph, JailwfEngine engine, CancellationToken ct) =>
        {
            var (_, json) = DefinitionGraphs.ToDefinition(graph);
            var stored = await engine.AddDefinitionVersionAsync(json, graph.BaseVersion, ct).ConfigureAwait(false);
            var answer = await GetDefinitionAsync(engine, stored.Id, stored.Version, ct).ConfigureAwait(false);
            return TypedResults.Created($"/api/v1/definitions/{stored.Id}/versions/{stored.Version}", answer);
        });

        api.MapGet("/instances", ListInstancesAsync);
        api.MapPost("/instances", StartAsync);
        api.MapGet("/instances/{id}", async (string id, JailwfEngine engine, CancellationToken ct) =>
            TypedResults.Ok(await engine.Queries.ViewAsync(await ControlApi.ResolveAsync(engine, id, ct).ConfigureAwait(false), ct).ConfigureAwait(false)));
        api.MapGet("/instances/{id}/journal", async (string id, long? afterId, int? max, JailwfEngine engine, CancellationToken ct) =>
        {
            var take = max ?? 200;
            if (take is < 1 or > 1000)
            {
                throw new ArgumentOutOfRangeException(nameof(max), take, "max is 1 to 1000.");
            }

            var full = await ControlApi.ResolveAsync(engine, id, ct).ConfigureAwait(false);
            var entries = await engine.Queries.JournalAsync(full, afterId ?? 0, take, ct).ConfigureAwait(false);
            return TypedResults.Ok(new JournalPage(entries, entries.Count > 0 ? entries[^1].Id : afterId ?? 0));
        });
        api.MapGet("/instances/{id}/approval/diffs", async (string id, JailwfEngine engine, CancellationToken ct) =>
        {
            var full = await ControlApi.ResolveAsync(engine, id, ct).ConfigureAwait(false);
            return await engine.ApprovalDiffsAsync(full, ct).ConfigureAwait(false) is { } files
                ? Results.Ok(new ApprovalDiffs(files))
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"Instance {full} waits for no approval.", extensions: new Dictionary<string, object?> { ["kind"] = "not-found" });
        });
        foreach (var action in ControlApi.DecisionActions)
        {
            api.MapPost("/instances/{id}/" + action, async (string id, DecisionRequest? request, JailwfEngine engine, CancellationToken ct) =>
                TypedResults.Ok(await ControlApi.DecideAsync(engine, id, action, request ?? new DecisionRequest(null), ct).ConfigureAwait(false)));
        }

        api.MapGet("/schedules", async (ScheduleBook book, CancellationToken ct) => TypedResults.Ok(await book.ListAsync(ct).ConfigureAwait(false)));
        api.MapGet("/schedules/{id}", async (string id, ScheduleBook book, CancellationToken ct) => TypedResults.Ok(await book.GetAsync(id, ct).ConfigureAwait(false)));
        api.MapGet("/schedules/{id}/events", async (string id, ScheduleBook book, CancellationToken ct) =>
        {
            _ = await book.GetAsync(id, ct).ConfigureAwait(false);
            return TypedResults.Ok(await book.Journal.ReadAsync(id, ct).ConfigureAwait(false));
        });
        api.MapPost("/schedules", async (ScheduleRequest request, ScheduleBook book, JailwfEngine engine, CancellationToken ct) =>
        {
            var view = await book.AddAsync(request, d => engine.Definitions.Keys.Any(k => k.Id == d), ct).ConfigureAwait(false);
            return TypedResults.Created($"/api/v1/schedules/{view.Id}", view);
        });
        api.MapPost("/schedules/{id}/pause", async (string id, ScheduleBook book, CancellationToken ct) => TypedResults.Ok(await book.PauseAsync(id, ct).ConfigureAwait(false)));
        api.MapPost("/schedules/{id}/resume", async (string id, ScheduleBook book, CancellationToken ct) => TypedResults.Ok(await book.ResumeAsync(id, ct).ConfigureAwait(false)));
        api.MapDelete("/schedules/{id}", async (string id, ScheduleBook book, CancellationToken ct) =>
        {
            await book.RemoveAsync(id, ct).ConfigureAwait(false);
            return TypedResults.NoContent();
        });

        api.MapGet("/events", EventStream.RunAsync);
        api.MapFallback(() => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "No such API endpoint (docs/api.md lists them).", extensions: new Dictionary<string, object?> { ["kind"] = "not-found" }));
    }

    private static ActivityInfo Info(ActivityDescriptor a) =>
        new(a.Name, a.Description, a.Recovery, JsonNode.Parse(a.InputSchema)!, a.Retry, a.Produces, a.Needs);

    private static async Task<IResult> ListDefinitionsAsync(JailwfEngine engine, CancellationToken ct)
    {
        var stored = (await engine.DefinitionStore.ListAsync(ct).ConfigureAwait(false)).ToDictionary(d => (d.DefinitionId, d.Version), d => d.RegisteredAt);
        var pinned = (await engine.Queries.ListAsync(ct).ConfigureAwait(false)).CountBy(v => (v.Definition, v.Version)).ToDictionary();
        var list = engine.Definitions.Values
            .GroupBy(d => d.Id, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var versions = g.OrderBy(d => d.Version).ToList();
                var latest = versions[^1];
                return new DefinitionInfo(
                    g.Key,
                    latest.Title,
                    ScopeText(latest.Scope),
                    latest.Version,
                    versions.Select(d => new DefinitionVersionInfo(d.Version, d.Title, stored.TryGetValue((d.Id, d.Version), out var at) ? at : null, pinned.GetValueOrDefault((d.Id, d.Version)))).ToList());
            })
            .ToList();
        return TypedResults.Ok(list);
    }

    private static async Task<DefinitionGraph> GetDefinitionAsync(JailwfEngine engine, string id, int? version, CancellationToken ct)
    {
        var versions = engine.Definitions.Keys.Where(k => k.Id == id).Select(k => k.Version).ToList();
        if (versions.Count == 0)
        {
            throw new KeyNotFoundException($"Unknown workflow definition '{id}'.");
        }

        var wanted = version ?? versions.Max();
        if (!engine.Definitions.TryGetValue((id, wanted), out var document))
        {
            throw new KeyNotFoundException($"Workflow definition '{id}' has no version {wanted} (versions: {string.Join(", ", versions.Order())}).");
        }

        var row = await engine.DefinitionStore.GetAsync(id, wanted, ct).ConfigureAwait(false);
        var instances = (await engine.Queries.ListAsync(ct).ConfigureAwait(false)).Count(v => v.Definition == id && v.Version == wanted);
        return DefinitionGraphs.FromDocument(document) with { RegisteredAt = row?.RegisteredAt, Instances = instances };
    }

    private static async Task<IResult> ListInstancesAsync(string? state, string? definition, string? server, JailwfEngine engine, CancellationToken ct)
    {
        var states = new HashSet<InstanceState>();
        foreach (var text in (state ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Enum.TryParse<InstanceState>(text, ignoreCase: true, out var parsed) || int.TryParse(text, CultureInfo.InvariantCulture, out _))
            {
                return ApiProblems.Validation("Invalid filter", new Dictionary<string, string[]> { ["state"] = [$"'{text}' is not a state (running, interrupted, incident, awaitingApproval, complete, aborted)"] }, StatusCodes.Status400BadRequest);
            }

            states.Add(parsed);
        }

        var views = (await engine.Queries.ListAsync(ct).ConfigureAwait(false))
            .Where(v => states.Count == 0 || states.Contains(v.State))
            .Where(v => definition is null || v.Definition == definition)
            .Where(v => server is null || string.Equals(v.Server, server, StringComparison.Ordinal))
            .ToList();
        return TypedResults.Ok(views);
    }

    private static async Task<IResult> StartAsync(StartRequest request, JailwfEngine engine, CancellationToken ct)
    {
        var missing = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Definition))
        {
            missing["definition"] = ["the definition id is required"];
        }

        if (string.IsNullOrWhiteSpace(request.Plan))
        {
            missing["plan"] = ["the plan (YAML text) is required"];
        }

        if (missing.Count > 0)
        {
            return ApiProblems.Validation("Invalid request", missing, StatusCodes.Status400BadRequest);
        }

        var plan = PlanLoader.Parse(request.Plan!);
        var versions = engine.Definitions.Keys.Where(k => k.Id == request.Definition).Select(k => k.Version).ToList();
        if (versions.Count == 0)
        {
            throw new KeyNotFoundException($"Unknown workflow definition '{request.Definition}' (known: {string.Join(", ", engine.Definitions.Keys.Select(k => k.Id).Distinct().Order(StringComparer.Ordinal))}).");
        }

        var version = request.Version ?? versions.Max();
        if (!engine.Definitions.TryGetValue((request.Definition!, version), out var document))
        {
            throw new KeyNotFoundException($"Workflow definition '{request.Definition}' has no version {version} (versions: {string.Join(", ", versions.Order())}).");
        }

        IReadOnlyList<string> targets = request.Server is { } one ? [one]
            : document.Scope == DefinitionScope.JailHost ? [string.Empty]
            : plan.Servers.Select(s => s.Name).ToList();
        foreach (var target in targets.Where(t => t.Length > 0))
        {
            _ = plan.Server(target);
        }

        var started = new List<string>();
        foreach (var target in targets)
        {
            started.Add(await engine.StartInstanceAsync(document.Id, plan, target, version, ct).ConfigureAwait(false));
        }

        return TypedResults.Created("/api/v1/instances", new RunResponse(started));
    }

    private static string ScopeText(DefinitionScope scope) => scope == DefinitionScope.JailHost ? "jailHost" : "server";
}
