using JailWorkflows.Server;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary><c>jailwf serve [--db] [--workflows] [--poll]</c>: the long-running engine process with the schedules, in the foreground.</summary>
internal sealed class ServeCommand : AsyncCommand<EngineSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, EngineSettings settings, CancellationToken cancellationToken)
    {
        var engine = settings.ToEngineOptions();
        var options = new ServeOptions
        {
            DatabasePath = engine.DatabasePath,
            WorkflowsDirectory = engine.WorkflowsDirectory,
            JobPollInterval = engine.JobPollInterval,
        };
        await JailwfServer.RunAsync(options, cancellationToken).ConfigureAwait(false);
        return 0;
    }
}
