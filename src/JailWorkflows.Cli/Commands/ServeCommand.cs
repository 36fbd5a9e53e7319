using JailWorkflows.Server;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary><c>jailwf serve [--db] [--workflows] [--poll]</c>: the long-running engine process with the schedules, in the foreground.</summary>
internal sealed class ServeCommand : AsyncCommand<EngineSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, EngineSettings settings, CancellationToken cancellationToken)
    {
        var options = new ServeOptions { Engine = settings.ToEngineOptions() };
        await JailwfServer.RunAsync(options, cancellationToken).ConfigureAwait(false);
        return 0;
    }
}
