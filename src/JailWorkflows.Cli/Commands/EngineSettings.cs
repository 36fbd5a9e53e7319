using System.ComponentModel;
using JailWorkflows.Engine;
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
    public async Task<(JailwfEngine Engine, string InstanceId)> StartEngineForInstanceAsync(CancellationToken cancellationToken)
    {
        var options = ToEngineOptions();
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
}
