using System.ComponentModel.DataAnnotations;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Definitions;
using JailWorkflows.Hosts;
using JailWorkflows.Plans;
using JailWorkflows.Server.Schedules;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace JailWorkflows.Server;

/// <summary>Body of <c>POST /instances</c>: start a run.</summary>
/// <param name="Definition">The definition id.</param>
/// <param name="Plan">The plan's YAML text.</param>
/// <param name="Servers">Servers of the plan (server definitions); empty for all.</param>
public sealed record RunRequest(string Definition, string Plan, IReadOnlyList<string>? Servers);

/// <summary>Answer of <c>POST /instances</c>.</summary>
/// <param name="Instances">The started instances.</param>
public sealed record RunResponse(IReadOnlyList<string> Instances);

/// <summary>Body of the operator actions (<c>POST /instances/{id}/retry|skip|abort|resume|approve</c>).</summary>
/// <param name="Reason">Why (journaled; required for retry, skip and abort).</param>
/// <param name="Force">skip only: skip even when a later step needs the step's result.</param>
public sealed record DecisionRequest(string? Reason, bool Force = false);

/// <summary>Answer of an operator action.</summary>
/// <param name="Instance">The instance (full id).</param>
/// <param name="Step">The step concerned, if any: retried, skipped or resumed (that of the oldest open incident); approved; for a resume of an instance that was runnable already, the step it continues at.</param>
/// <param name="Done">resume: whether it was suspended and a decision was taken (false: it was runnable already, nothing decided); see <paramref name="Runnable"/> for whether it runs now. Always true for the other actions.</param>
/// <param name="Detail">abort: the host job killed; approve: what was approved.</param>
/// <param name="Runnable">retry, skip, resume: whether the instance is runnable now (false: another failed parallel branch's incident still holds it suspended, see <paramref name="SuspendedBy"/>); null for abort and approve (and from a serve older than this field).</param>
/// <param name="SuspendedBy">retry, skip, resume: the incidents still open that keep the instance suspended, oldest first (empty when it is runnable now); null for abort and approve (and from a serve older than this field).</param>
public sealed record DecisionResponse(string Instance, string? Step, bool Done, string? Detail, bool? Runnable = null, IReadOnlyList<HoldingIncident>? SuspendedBy = null)
{
    /// <summary>The answer of a decision on an instance's oldest open incident (retry, skip).</summary>
    /// <param name="instance">The instance (full id).</param>
    /// <param name="decision">What the engine did.</param>
    /// <returns>The answer.</returns>
    internal static DecisionResponse Of(string instance, DecisionResult decision) => new(instance, decision.Step, true, null, decision.Runnable, decision.SuspendedBy);

    /// <summary>The answer of a resume.</summary>
    /// <param name="instance">The instance (full id).</param>
    /// <param name="resumed">What the engine did.</param>
    /// <param name="current">The step an instance that was runnable already continues at, if known (null when it was suspended).</param>
    /// <returns>The answer.</returns>
    internal static DecisionResponse Of(string instance, ResumeResult resumed, string? current) => new(instance, resumed.Step ?? current, !resumed.WasRunnable, null, resumed.Runnable, resumed.SuspendedBy);
}

/// <summary>Answer of <c>GET /health</c>.</summary>
/// <param name="Pid">serve's process id.</param>
/// <param name="Database">The engine's database.</param>
public sealed record HealthResponse(int Pid, string Database);

/// <summary>
/// serve's control API (minimal APIs, JSON; errors as RFC 9457 problem details whose <c>kind</c> extension says what went wrong:
/// <c>bad-input</c>, <c>not-found</c>, <c>refused</c>, <c>host</c>, <c>timeout</c>, <c>internal</c>). For this release it answers on
/// the Unix domain socket only; the shapes are meant to be served over TCP with a token later.
/// </summary>
public static class ControlApi
{
    /// <summary>Maps the endpoints.</summary>
    /// <param name="app">The application.</param>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/health", (ServeOptions options) => Results.Ok(new HealthResponse(Environment.ProcessId, options.DatabasePath)));

        app.MapPost("/instances", (RunRequest request, JailwfEngine engine, CancellationToken ct) => Handle(async () =>
        {
            var plan = PlanLoader.Parse(request.Plan);
            foreach (var server in request.Servers ?? [])
            {
                _ = plan.Server(server);
            }

            var started = await engine.StartRunAsync(request.Definition, plan, request.Servers, origin: null, ct).ConfigureAwait(false);
            return Results.Created("/instances", new RunResponse(started.Select(s => s.Id).ToList()));
        }));

        foreach (var action in DecisionActions)
        {
            app.MapPost("/instances/{id}/" + action, (string id, DecisionRequest request, JailwfEngine engine, CancellationToken ct) =>
                Handle(async () => Results.Ok(await DecideAsync(engine, id, action, request, ct).ConfigureAwait(false))));
        }

        app.MapGet("/schedules", (ScheduleBook book, CancellationToken ct) => Handle(async () => Results.Ok(await book.ListAsync(ct).ConfigureAwait(false))));
        app.MapGet("/schedules/{id}", (string id, ScheduleBook book, CancellationToken ct) => Handle(async () => Results.Ok(await book.GetAsync(id, ct).ConfigureAwait(false))));
        app.MapPost("/schedules", (ScheduleRequest request, ScheduleBook book, JailwfEngine engine, CancellationToken ct) => Handle(async () =>
        {
            var view = await book.AddAsync(request, d => engine.Definitions.Keys.Any(k => k.Id == d), ct).ConfigureAwait(false);
            return Results.Created($"/schedules/{view.Id}", view);
        }));
        app.MapPost("/schedules/{id}/pause", (string id, ScheduleBook book, CancellationToken ct) => Handle(async () => Results.Ok(await book.PauseAsync(id, ct).ConfigureAwait(false))));
        app.MapPost("/schedules/{id}/resume", (string id, ScheduleBook book, CancellationToken ct) => Handle(async () => Results.Ok(await book.ResumeAsync(id, ct).ConfigureAwait(false))));
        app.MapDelete("/schedules/{id}", (string id, ScheduleBook book, CancellationToken ct) => Handle(async () =>
        {
            await book.RemoveAsync(id, ct).ConfigureAwait(false);
            return Results.NoContent();
        }));
    }

    /// <summary>The problem kind (and HTTP status) of an error, as the CLI maps it to its exit codes.</summary>
    /// <param name="exception">The error.</param>
    /// <returns>The kind, the status and a title.</returns>
    public static (string Kind, int Status, string Title) Classify(Exception exception) => exception switch
    {
        PlanValidationException => ("bad-input", StatusCodes.Status400BadRequest, "Invalid plan"),
        DefinitionValidationException => ("bad-input", StatusCodes.Status400BadRequest, "Invalid workflow definition"),
        ValidationException => ("bad-input", StatusCodes.Status400BadRequest, "Invalid option"),
        KeyNotFoundException or FileNotFoundException => ("not-found", StatusCodes.Status404NotFound, "Not found"),
        NotAwaitingApprovalException => ("refused", StatusCodes.Status409Conflict, "Nothing to approve"),
        InstanceStateException or InstanceConflictException or DefinitionVersionConflictException => ("refused", StatusCodes.Status409Conflict, "Refused"),
        ArgumentException or FormatException => ("bad-input", StatusCodes.Status400BadRequest, "Invalid argument"),
        HostKeyMismatchException => ("host", StatusCodes.Status502BadGateway, "Host key mismatch"),
        HostUnreachableException => ("host", StatusCodes.Status502BadGateway, "Host unreachable"),
        TimeoutException => ("timeout", StatusCodes.Status504GatewayTimeout, "Timed out"),
        _ => ("internal", StatusCodes.Status500InternalServerError, "Internal error"),
    };

    private static async Task<IResult> Handle(Func<Task<IResult>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var (kind, status, title) = Classify(ex);
            return Results.Problem(detail: ex.Message, statusCode: status, title: title, extensions: new Dictionary<string, object?> { ["kind"] = kind });
        }
    }

    /// <summary>The operator actions on an instance: resume, retry, skip, abort, approve.</summary>
    internal static readonly IReadOnlyList<string> DecisionActions = ["resume", "retry", "skip", "abort", "approve"];

    /// <summary>Takes an operator action on an instance through the engine (which checks the instance's state).</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="id">The instance id or prefix.</param>
    /// <param name="action">One of <see cref="DecisionActions"/>.</param>
    /// <param name="request">Reason and force.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>What was done.</returns>
    internal static async Task<DecisionResponse> DecideAsync(JailwfEngine engine, string id, string action, DecisionRequest request, CancellationToken ct)
    {
        var full = await ResolveAsync(engine, id, ct).ConfigureAwait(false);
        switch (action)
        {
            case "resume":
                var resumed = await engine.ResumeAsync(full, request.Reason, ct).ConfigureAwait(false);
                return DecisionResponse.Of(full, resumed, resumed.WasRunnable ? (await engine.Queries.ViewAsync(full, ct).ConfigureAwait(false))?.Current?.Id : null);
            case "retry":
                return DecisionResponse.Of(full, await engine.RetryAsync(full, request.Reason ?? string.Empty, ct).ConfigureAwait(false));
            case "skip":
                return DecisionResponse.Of(full, await engine.SkipAsync(full, request.Reason ?? string.Empty, request.Force, ct).ConfigureAwait(false));
            case "abort":
                return new DecisionResponse(full, null, true, await engine.AbortAsync(full, request.Reason ?? string.Empty, ct).ConfigureAwait(false));
            case "approve":
                var approved = await engine.ApproveAsync(full, request.Reason, ct).ConfigureAwait(false);
                return new DecisionResponse(full, approved.Step, true, approved.Subject);
            default:
                throw new ArgumentException($"Unknown action '{action}' (known: {string.Join(", ", DecisionActions)}).", nameof(action));
        }
    }

    /// <summary>Resolves an instance id or prefix.</summary>
    /// <exception cref="KeyNotFoundException">No such instance.</exception>
    internal static async Task<string> ResolveAsync(JailwfEngine engine, string id, CancellationToken ct) =>
        await engine.Queries.ResolveIdAsync(id, ct).ConfigureAwait(false) ?? throw new KeyNotFoundException($"No workflow instance '{id}'.");
}
