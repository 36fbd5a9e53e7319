using System.ComponentModel;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Definitions;
using JailWorkflows.Plans;
using JailWorkflows.Server;
using Spectre.Console;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary><c>jailwf run &lt;definition&gt; --plan &lt;file&gt; [--server &lt;name&gt;]</c>.</summary>
internal sealed class RunCommand : AsyncCommand<RunCommand.Settings>
{
    public sealed class Settings : EngineSettings
    {
        [CommandArgument(0, "<DEFINITION>")]
        [Description("The workflow definition id, e.g. consolidate-server.")]
        public string Definition { get; init; } = string.Empty;

        [CommandOption("--plan <FILE>")]
        [Description("The plan (YAML): the jail host and the source servers.")]
        public string? Plan { get; init; }

        [CommandOption("--server <NAME>")]
        [Description("Only this server of the plan (default: every server, one instance each).")]
        public string[] Servers { get; init; } = [];

        public override ValidationResult Validate() =>
            Plan is null ? ValidationResult.Error("--plan <FILE> is required.") : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var plan = PlanLoader.Load(settings.Plan!);
        var servers = settings.Servers.Length > 0 ? settings.Servers.Distinct(StringComparer.Ordinal).ToArray() : plan.Servers.Select(s => s.Name).ToArray();
        foreach (var server in servers)
        {
            _ = plan.Server(server);
        }

        using (var serve = await ServeClient.ConnectAsync(settings.DatabasePath, cancellationToken).ConfigureAwait(false))
        {
            if (serve is not null)
            {
                // serve runs the engine on this database: it starts the run; this command checks the hosts and follows.
                var workflows = settings.ToEngineOptions().WorkflowsDirectory;
                var hostScoped = Directory.Exists(workflows) && DefinitionLoader.LoadDirectory(workflows).Any(d => d.Id == settings.Definition && d.Scope == DefinitionScope.JailHost);
                await HostCheck.VerifyAsync(plan, hostScoped ? [] : servers, cancellationToken).ConfigureAwait(false);
                var started = await serve.RunAsync(new RunRequest(settings.Definition, File.ReadAllText(settings.Plan!), settings.Servers.Length > 0 ? servers : null), cancellationToken).ConfigureAwait(false);
                // Named as the engine of this command names them: serve starts one per server in this order, or one for the jail host.
                string[] targets = hostScoped ? ["the jail host " + plan.JailHost.Name] : servers;
                for (var i = 0; i < started.Instances.Count; i++)
                {
                    var target = started.Instances.Count == targets.Length ? $" for [bold]{Markup.Escape(targets[i])}[/]" : string.Empty;
                    AnsiConsole.MarkupLine($"started {Markup.Escape(settings.Definition)}{target}: instance {started.Instances[i]} (through jailwf serve, pid {serve.Pid})");
                }

                return await InstanceSettings.FollowAsync(settings.DatabasePath, started.Instances, cancellationToken).ConfigureAwait(false);
            }
        }

        return await RunAsync(settings.ToEngineOptions(), settings.Definition, plan, servers, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Checks the hosts, starts one instance per server and follows them to the end.</summary>
    public static async Task<int> RunAsync(EngineOptions options, string definition, Plan plan, IReadOnlyList<string> servers, CancellationToken cancellationToken)
    {
        // Definitions first (bad input is named before any host is contacted), then every host is reached
        // and its pinned key checked: a wrong key or an unreachable host stops here, nothing executed anywhere.
        var definitions = Directory.Exists(options.WorkflowsDirectory) ? DefinitionLoader.LoadDirectory(options.WorkflowsDirectory) : [];
        var document = definitions.Where(d => d.Id == definition).MaxBy(d => d.Version)
            ?? throw new KeyNotFoundException($"Unknown workflow definition '{definition}' in {options.WorkflowsDirectory} (known: {string.Join(", ", definitions.Select(d => d.Id).Distinct())}).");

        // A jail host definition works on the jail host alone: its source servers are not contacted.
        var hostScoped = document.Scope == DefinitionScope.JailHost;
        servers = hostScoped ? [] : servers;

        await HostCheck.VerifyAsync(plan, servers, cancellationToken).ConfigureAwait(false);
        await using var engine = await JailwfEngine.StartAsync(options, cancellationToken: cancellationToken).ConfigureAwait(false);

        // The engine also continues instances a killed engine left: follow and report them too.
        var ids = (await engine.RunnableInstancesAsync(cancellationToken).ConfigureAwait(false)).ToList();
        foreach (var interrupted in ids)
        {
            AnsiConsole.MarkupLine($"continuing interrupted instance {interrupted}");
        }

        foreach (var server in hostScoped ? [string.Empty] : servers)
        {
            var id = await engine.StartInstanceAsync(definition, plan, server, cancellationToken: cancellationToken).ConfigureAwait(false);
            AnsiConsole.MarkupLine($"started {Markup.Escape(definition)} for [bold]{Markup.Escape(hostScoped ? "the jail host " + plan.JailHost.Name : server)}[/]: instance {id}");
            ids.Add(id);
        }

        return await Monitor.FollowAsync(engine.Queries, ids, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary><c>jailwf resume &lt;instance&gt;</c>: continue an interrupted or suspended instance and follow it.</summary>
internal sealed class ResumeCommand : AsyncCommand<ResumeCommand.Settings>
{
    public sealed class Settings : InstanceSettings
    {
        [CommandOption("--reason <TEXT>")]
        [Description("Why (written to the journal).")]
        public string? Reason { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        await settings.RefuseUnlessAsync(v => v.State is InstanceState.Incident or InstanceState.Interrupted or InstanceState.Running or InstanceState.AwaitingApproval, "resume", cancellationToken).ConfigureAwait(false);
        if (await settings.ThroughServeAsync("resume", new DecisionRequest(settings.Reason), d => d.Done ? Resumed(d.Step ?? "?", d.Instance, d.SuspendedBy) : $"instance {d.Instance} runs already", follow: true, cancellationToken).ConfigureAwait(false) is { } served)
        {
            return served;
        }

        return await settings.DecideAndFollowAsync(
            async (engine, id) => await engine.ResumeAsync(id, settings.Reason, cancellationToken).ConfigureAwait(false) is { Decision: { } resumed }
                ? Resumed(resumed.Step, id, resumed.SuspendedBy)
                : $"continuing interrupted instance {id}",
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The step resumed is that of the oldest open incident; another failed branch's incident may still hold the instance suspended.</summary>
    private static string Resumed(string step, string id, IReadOnlyList<HoldingIncident>? suspendedBy) =>
        $"resumed instance {id} at step [bold]{Markup.Escape(step)}[/]{DecisionText.StillSuspended(suspendedBy)}";
}
