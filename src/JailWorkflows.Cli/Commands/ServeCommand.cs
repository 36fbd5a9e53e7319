using System.ComponentModel;
using JailWorkflows.Server;
using JailWorkflows.Server.Api;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary>Options of <c>jailwf serve</c>.</summary>
internal sealed class ServeSettings : EngineSettings
{
    [CommandOption("--urls <URLS>")]
    [Description("Where the HTTP API listens, comma-separated, loopback only (default http://127.0.0.1:5080; port 0 picks a free one; 'none' for no HTTP API).")]
    public string? Urls { get; init; }

    [CommandOption("--designer <DIR>")]
    [Description("The designer's built files, served at / (default: designer/dist beside jailwf or in the current directory, when present).")]
    public string? Designer { get; init; }
}

/// <summary><c>jailwf serve [--db] [--workflows] [--poll] [--urls] [--designer]</c>: the long-running engine process with the schedules and the HTTP API, in the foreground.</summary>
internal sealed class ServeCommand : AsyncCommand<ServeSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ServeSettings settings, CancellationToken cancellationToken)
    {
        var options = new ServeOptions
        {
            Engine = settings.ToEngineOptions(),
            DesignerPath = settings.Designer is null ? null : Path.GetFullPath(settings.Designer),
            Urls = settings.Urls switch
            {
                null => ["http://127.0.0.1:5080"],
                "none" => [],
                var list => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList(),
            },
        };
        await JailwfServer.RunAsync(options, cancellationToken).ConfigureAwait(false);
        return 0;
    }
}

/// <summary><c>jailwf token [--db]</c>: prints the HTTP API's bearer token (made at serve's first start).</summary>
internal sealed class TokenCommand : Command<EngineSettings>
{
    public override int Execute(CommandContext context, EngineSettings settings, CancellationToken cancellationToken)
    {
        var path = ServeOptions.TokenPathOf(settings.DatabasePath);
        var token = ApiToken.Read(path)
            ?? throw new FileNotFoundException($"No API token at {path}: 'jailwf serve' makes one at its first start.", path);
        Console.Out.WriteLine(token.Value);
        return 0;
    }
}
