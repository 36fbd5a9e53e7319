using System.ComponentModel;
using JailWorkflows.Engine;
using JailWorkflows.Server;
using Spectre.Console;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary>Options every command that touches the database has.</summary>
internal class EngineSettings : CommandSettings
{
    [CommandOption("--db <PATH>")]
    [Description("The SQLite database (default: $JAILWF_DB, else ~/.local/state/jailwf/jailwf.db).")]
    public string? Database { get; init; }

    [CommandOption("--workflows <DIR>")]
    [Description("The workflow definitions directory (default: workflows beside jailwf).")]
    public string? Workflows { get; init; }

    [CommandOption("--poll <SECONDS>")]
    [Description("How often steps poll their host jobs (default 2).")]
    [DefaultValue(2.0)]
    public double PollSeconds { get; init; } = 2.0;

    public string DatabasePath =>
        Path.GetFullPath(Database ?? (Environment.GetEnvironmentVariable("JAILWF_DB") is { Length: > 0 } env ? env : EngineOptions.DefaultDatabasePath));

    public EngineOptions ToEngineOptions()
    {
        var options = new EngineOptions
        {
            DatabasePath = DatabasePath,
            JobPollInterval = TimeSpan.FromSeconds(PollSeconds),
        };
        if (Workflows is not null)
        {
            options.WorkflowsDirectory = Path.GetFullPath(Workflows);
        }

        return options;
    }
}

/// <summary>Settings of commands that take one instance.</summary>
internal class InstanceSettings : EngineSettings
{
    [CommandArgument(0, "<INSTANCE>")]
    [Description("The instance id (or a unique prefix of 8 or more characters).")]
    public string Instance { get; init; } = string.Empty;

    /// <summary>Starts the engine on an existing database and resolves <see cref="Instance"/> (an id or a unique prefix).</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <param name="runInstances">Whether the engine runs instances (false: only an operator action, no step runs).</param>
    public async Task<(JailwfEngine Engine, string InstanceId)> StartEngineForInstanceAsync(CancellationToken cancellationToken, bool runInstances = true)
    {
        var options = ToEngineOptions();
        options.RunInstances = runInstances;
        if (!File.Exists(options.DatabasePath))
        {
            throw new FileNotFoundException($"No JailWorkflows database at {options.DatabasePath}.", options.DatabasePath);
        }

        var engine = await JailwfEngine.StartAsync(options, cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            var id = await engine.Queries.ResolveIdAsync(Instance, cancellationToken).ConfigureAwait(false)
                ?? throw new KeyNotFoundException($"No workflow instance '{Instance}'.");
            return (engine, id);
        }
        catch
        {
            await engine.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// When a serve runs on the database (<see cref="ServeClient.ConnectAsync"/>), sends the operator action to it, prints what
    /// <paramref name="describe"/> makes of the answer, and follows the instance by reading the store (or not, with
    /// <paramref name="follow"/> false); returns the exit code. Returns null when no serve runs: the caller starts its own engine.
    /// </summary>
    public async Task<int?> ThroughServeAsync(string action, DecisionRequest request, Func<DecisionResponse, string> describe, bool follow, CancellationToken cancellationToken)
    {
        using var serve = await ServeClient.ConnectAsync(DatabasePath, cancellationToken).ConfigureAwait(false);
        if (serve is null)
        {
            return null;
        }

        var done = await serve.DecideAsync(Instance, action, request, cancellationToken).ConfigureAwait(false);
        AnsiConsole.MarkupLine(describe(done) + $" (through jailwf serve, pid {serve.Pid})");
        return follow ? await FollowAsync(DatabasePath, [done.Instance], cancellationToken).ConfigureAwait(false) : 0;
    }

    /// <summary>Follows instances that a serve runs, reading the store only.</summary>
    public static async Task<int> FollowAsync(string databasePath, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        var (queries, owner) = InstanceQueries.Open(databasePath);
        await using (owner.ConfigureAwait(false))
        {
            return await Monitor.FollowAsync(queries, ids, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Takes an operator decision on an engine that runs no step yet (a refused decision changes nothing, not even other
    /// instances), prints what <paramref name="decide"/> returns (markup), then runs instances and follows this one and
    /// the other interrupted ones to the end.
    /// </summary>
    public async Task<int> DecideAndFollowAsync(Func<JailwfEngine, string, Task<string>> decide, CancellationToken cancellationToken)
    {
        var (engine, id) = await StartEngineForInstanceAsync(cancellationToken, runInstances: false).ConfigureAwait(false);
        await using var _ = engine.ConfigureAwait(false);
        AnsiConsole.MarkupLine(await decide(engine, id).ConfigureAwait(false));
        await engine.RunInstancesAsync(cancellationToken).ConfigureAwait(false);
        var others = await Monitor.AlsoRunningAsync(engine, id, cancellationToken).ConfigureAwait(false);
        return await Monitor.FollowAsync(engine.Queries, [id, .. others], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Refuses (nothing started, nothing changed) when the instance is unknown or <paramref name="fits"/> says its state does
    /// not fit <paramref name="verb"/>; read-only, before any engine starts (an engine start would run other instances).
    /// A database with an older schema is left to the engine's own check.
    /// </summary>
    public async Task RefuseUnlessAsync(Func<InstanceView, bool> fits, string verb, CancellationToken cancellationToken)
    {
        if (!File.Exists(DatabasePath))
        {
            throw new FileNotFoundException($"No JailWorkflows database at {DatabasePath}.", DatabasePath);
        }

        InstanceQueries queries;
        IAsyncDisposable owner;
        try
        {
            (queries, owner) = InstanceQueries.Open(DatabasePath);
        }
        catch (InvalidOperationException)
        {
            return; // an older schema: the engine upgrades it and checks the state itself
        }

        await using (owner.ConfigureAwait(false))
        {
            var view = await queries.ViewAsync(Instance, cancellationToken).ConfigureAwait(false)
                ?? throw new KeyNotFoundException($"No workflow instance '{Instance}'.");
            if (!fits(view))
            {
                var what = view.State switch
                {
                    InstanceState.Complete => "is complete",
                    InstanceState.Aborted => "was aborted",
                    InstanceState.AwaitingApproval => $"waits for an approval at step {view.Approval?.Step} ('jailwf approve {view.Id} --reason ...')",
                    InstanceState.Incident => $"has an incident at step {view.Incident?.Step ?? view.Current?.Id}",
                    InstanceState.Interrupted => "was interrupted and has no incident ('jailwf resume' continues it)",
                    _ => "is running and has no incident",
                };
                throw new InstanceStateException(view.Id, verb == "approve"
                    ? $"Instance {view.Id} does not wait for an approval: it {what}; nothing was changed."
                    : $"Instance {view.Id} {what}: nothing to {verb}; nothing was changed.");
            }
        }
    }
}
