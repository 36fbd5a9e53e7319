using System.ComponentModel;
using JailWorkflows.Lab;
using LabEnvironment = JailWorkflows.Lab.Lab;
using Spectre.Console;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary>Options of the lab commands.</summary>
internal class LabSettings : CommandSettings
{
    [CommandOption("--lab-dir <DIR>")]
    [Description("The lab directory (default /var/tmp/jailwf-lab).")]
    public string? LabDirectory { get; init; }

    public LabOptions ToLabOptions()
    {
        var options = new LabOptions();
        if (LabDirectory is not null)
        {
            options.Directory = Path.GetFullPath(LabDirectory);
        }

        return options;
    }
}

/// <summary><c>jailwf lab up</c>.</summary>
internal sealed class LabUpCommand : AsyncCommand<LabSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, LabSettings settings, CancellationToken cancellationToken)
    {
        var lab = new LabEnvironment(settings.ToLabOptions());
        var info = await lab.UpAsync(cancellationToken).ConfigureAwait(false);
        LabStatusCommand.Print(await lab.StatusAsync(cancellationToken).ConfigureAwait(false));
        var planPath = Path.Combine(info.Directory, "plan.yaml");
        await File.WriteAllTextAsync(planPath, Plans.PlanWriter.ToYaml(info.ToPlan()), cancellationToken).ConfigureAwait(false);
        AnsiConsole.MarkupLine($"plan for the lab written to [bold]{Markup.Escape(planPath)}[/]");
        return 0;
    }
}

/// <summary><c>jailwf lab down</c>.</summary>
internal sealed class LabDownCommand : AsyncCommand<LabSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, LabSettings settings, CancellationToken cancellationToken)
    {
        await new LabEnvironment(settings.ToLabOptions()).DownAsync(cancellationToken).ConfigureAwait(false);
        AnsiConsole.MarkupLine("lab removed");
        return 0;
    }
}

/// <summary><c>jailwf lab status</c>.</summary>
internal sealed class LabStatusCommand : AsyncCommand<LabSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, LabSettings settings, CancellationToken cancellationToken)
    {
        Print(await new LabEnvironment(settings.ToLabOptions()).StatusAsync(cancellationToken).ConfigureAwait(false));
        return 0;
    }

    internal static void Print(LabStatus status)
    {
        AnsiConsole.MarkupLine($"lab {Markup.Escape(status.Directory)}: {(status.IsUp ? "[green]up[/]" : "[grey]down[/]")}");
        if (status.Components.Count == 0)
        {
            return;
        }

        var table = new Table().AddColumns("Host", "Kind", "Name", "Detail", "Running");
        foreach (var c in status.Components)
        {
            table.AddRow(Markup.Escape(c.Host), c.Kind.ToString(), Markup.Escape(c.Name), Markup.Escape(c.Detail), c.Running ? "[green]yes[/]" : "[red]no[/]");
        }

        AnsiConsole.Write(table);
    }
}
