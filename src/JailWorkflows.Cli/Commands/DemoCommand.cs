using JailWorkflows.Engine;
using JailWorkflows.Lab;
using LabEnvironment = JailWorkflows.Lab.Lab;
using Spectre.Console;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary>
/// <c>jailwf demo</c>: builds a fresh lab (shared/LAB.md), writes its plan, and consolidates its three legacy
/// servers into jails on the lab's jail host, one durable instance per server, through the jail host's sshd.
/// </summary>
internal sealed partial class DemoCommand : AsyncCommand<DemoCommand.Settings>
{
    [System.Text.RegularExpressions.GeneratedRegex("<[^>]*>")]
    private static partial System.Text.RegularExpressions.Regex Tags();

    public sealed class Settings : EngineSettings
    {
        [CommandOption("--lab-dir <DIR>")]
        [System.ComponentModel.Description("The lab directory (default /var/tmp/jailwf-lab).")]
        public string? LabDirectory { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var options = new LabOptions();
        if (settings.LabDirectory is not null)
        {
            options.Directory = Path.GetFullPath(settings.LabDirectory);
        }

        var lab = new LabEnvironment(options);
        AnsiConsole.MarkupLine("[bold]1.[/] building a fresh lab: three legacy FreeBSD-like servers and a jail host (real sshd, dump/restore, loop devices)…");
        await lab.DownAsync(cancellationToken).ConfigureAwait(false);
        var info = await lab.UpAsync(cancellationToken).ConfigureAwait(false);
        var plan = info.ToPlan();
        var planPath = Path.Combine(info.Directory, "plan.yaml");
        await File.WriteAllTextAsync(planPath, Plans.PlanWriter.ToYaml(plan), cancellationToken).ConfigureAwait(false);
        AnsiConsole.MarkupLine($"    plan written to {Markup.Escape(planPath)}; database {Markup.Escape(settings.DatabasePath)}");
        // The lab was rebuilt from scratch: unfinished instances of an earlier, interrupted demo refer to a lab that
        // is gone. End them (journaled), so they neither run against the new lab nor block its jails.
        var labJails = plan.JailHost.JailsDir;
        var ended = await JailwfEngine.EndUnfinishedAsync(
            settings.ToEngineOptions(),
            v => v.JailsDir == labJails,
            "jailwf demo rebuilt the lab this instance worked on",
            cancellationToken).ConfigureAwait(false);
        foreach (var id in ended)
        {
            AnsiConsole.MarkupLine($"    ended instance {id} of an earlier, interrupted demo (its lab was rebuilt)");
        }

        AnsiConsole.MarkupLine("[bold]2.[/] consolidating ServerA, ServerB and ServerC into jails (one durable workflow instance each)…");
        var exit = await RunCommand.RunAsync(settings.ToEngineOptions(), "consolidate-server", plan, plan.Servers.Select(s => s.Name).ToList(), cancellationToken).ConfigureAwait(false);
        if (exit == ExitCodes.WaitsForApproval)
        {
            // The lab's 4.x account files and motd differ from the new world's: a person would look at them; the demo accepts them.
            AnsiConsole.MarkupLine("    the jails keep their own master.passwd, group, motd and mail aliases: approving them for the demo (jailwf approve)…");
            await using var engine = await JailwfEngine.StartAsync(settings.ToEngineOptions(), cancellationToken: cancellationToken).ConfigureAwait(false);
            var waiting = (await engine.Queries.ListAsync(cancellationToken).ConfigureAwait(false))
                .Where(v => v.Approval is not null && plan.Servers.Any(s => s.Name == v.Server)).Select(v => v.Id).ToList();
            exit = await ApproveCommand.ApproveAndFollowAsync(engine, waiting, "jailwf demo: the lab servers' files are kept as they are", cancellationToken).ConfigureAwait(false);
        }

        if (exit != 0)
        {
            return exit;
        }

        AnsiConsole.MarkupLine("[bold]3.[/] the jails answer on their IPs:");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var server in plan.Servers)
        {
            var page = await http.GetStringAsync(new Uri($"http://{server.Jail.Ip}/"), cancellationToken).ConfigureAwait(false);
            var h1 = System.Text.RegularExpressions.Regex.Match(page, "<h1>(.*?)</h1>", System.Text.RegularExpressions.RegexOptions.Singleline);
            var heading = h1.Success ? Tags().Replace(h1.Groups[1].Value, string.Empty).Trim() : Tags().Replace(page, " ").Trim();
            AnsiConsole.MarkupLine($"    http://{server.Jail.Ip}/ (jail {Markup.Escape(server.Jail.Name)}): {Markup.Escape(heading)}");
        }

        AnsiConsole.MarkupLine($"done. [grey]jailwf list[/] shows the instances; [grey]jailwf lab down[/] removes the lab.");
        return 0;
    }
}
