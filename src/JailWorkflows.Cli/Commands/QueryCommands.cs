using System.ComponentModel;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using Spectre.Console;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary><c>jailwf list</c>.</summary>
internal sealed class ListCommand : AsyncCommand<EngineSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, EngineSettings settings, CancellationToken cancellationToken)
    {
        var (queries, owner) = InstanceQueries.Open(settings.DatabasePath);
        await using (owner.ConfigureAwait(false))
        {
            var table = new Table().AddColumns("Instance", "Definition", "Server", "State", "Step", "Created (UTC)");
            foreach (var view in await queries.ListAsync(cancellationToken).ConfigureAwait(false))
            {
                table.AddRow(
                    Markup.Escape(view.Id),
                    Markup.Escape($"{view.Definition} v{view.Version}"),
                    Markup.Escape(view.Server ?? string.Empty),
                    Markup.Escape(view.State.ToString()),
                    Markup.Escape(view.Incident?.Step ?? view.Current?.Id ?? string.Empty),
                    view.Created.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture));
            }

            AnsiConsole.Write(table);
            return 0;
        }
    }
}

/// <summary><c>jailwf status &lt;instance&gt;</c>.</summary>
internal sealed class StatusCommand : AsyncCommand<InstanceSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, InstanceSettings settings, CancellationToken cancellationToken)
    {
        var (queries, owner) = InstanceQueries.Open(settings.DatabasePath);
        await using (owner.ConfigureAwait(false))
        {
            var view = await queries.ViewAsync(settings.Instance, cancellationToken).ConfigureAwait(false)
                ?? throw new KeyNotFoundException($"No workflow instance '{settings.Instance}'.");
            AnsiConsole.MarkupLine($"instance [bold]{view.Id}[/]: {Markup.Escape(view.Definition)} v{view.Version} for {Markup.Escape(view.Server ?? "?")}: [bold]{view.State}[/]");
            // With parallel branches, each step names what it runs after (a chain needs no such column).
            var branched = view.Steps.Select((s, i) => i == 0 ? s.After.Count > 0 : s.After.Count != 1 || s.After[0] != view.Steps[i - 1].Id).Any(b => b);
            var table = branched
                ? new Table().AddColumns("Step", "After", "Activity", "Recovery", "Retry", "State", "Started (UTC)", "Ended (UTC)")
                : new Table().AddColumns("Step", "Activity", "Recovery", "Retry", "State", "Started (UTC)", "Ended (UTC)");

            foreach (var step in view.Steps)
            {
                var state = step.Failures > 0 && step.State is StepState.Running or StepState.Failed ? $"{step.State} ({step.Failures} failed)" : step.State.ToString();
                string[] cells = [Markup.Escape(step.Id), Markup.Escape(step.Activity), step.Recovery.ToString(), Markup.Escape(step.Retry.ToString()), Markup.Escape(state), Time(step.Started), Time(step.Ended)];
                table.AddRow(branched ? [cells[0], Markup.Escape(string.Join(", ", step.After)), .. cells[1..]] : cells);
            }

            AnsiConsole.Write(table);
            if (view.Incident is { } incident)
            {
                AnsiConsole.MarkupLine($"[red]incident[/] at step [bold]{Markup.Escape(incident.Step)}[/] on {Markup.Escape(incident.Host)} after {incident.Attempts} attempt(s), {incident.OpenedAt.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)} UTC: {Markup.Escape(incident.Error)}");
                foreach (var line in incident.OutputTail.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    AnsiConsole.MarkupLine($"  | {Markup.Escape(line)}");
                }

                AnsiConsole.MarkupLine($"  decide: jailwf retry|skip|abort {view.Id} --reason \"...\" (or resume)");
            }
            else if (view.State == InstanceState.Interrupted)
            {
                AnsiConsole.MarkupLine($"[yellow]interrupted[/]: no engine runs it; 'jailwf resume {view.Id}' continues it from its checkpoint");
            }
            if (view.Approval is { } approval)
            {
                AnsiConsole.MarkupLine($"[yellow]waits for approval[/] at step [bold]{Markup.Escape(approval.Step)}[/]: {Markup.Escape(approval.Subject)}");
                AnsiConsole.MarkupLine($"  continue with: jailwf approve {view.Id} --reason \"...\"");
            }

            if (view.Incident is null && view.LastError is { } error)
            {
                AnsiConsole.MarkupLine($"[red]last error:[/] {Markup.Escape(error)}");
            }

            if (view.LastOutput is { } output)
            {
                AnsiConsole.MarkupLine($"latest output: {Markup.Escape(output)}");
            }

            return 0;
        }
    }

    private static string Time(DateTime? time) => time?.ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
}

/// <summary><c>jailwf logs &lt;instance&gt; [--follow]</c>.</summary>
internal sealed class LogsCommand : AsyncCommand<LogsCommand.Settings>
{
    public sealed class Settings : InstanceSettings
    {
        [CommandOption("-f|--follow")]
        [Description("Keep printing new journal entries until the instance completes or stops with an incident.")]
        public bool Follow { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var (queries, owner) = InstanceQueries.Open(settings.DatabasePath);
        await using (owner.ConfigureAwait(false))
        {
            var id = await queries.ResolveIdAsync(settings.Instance, cancellationToken).ConfigureAwait(false)
                ?? throw new KeyNotFoundException($"No workflow instance '{settings.Instance}'.");
            long after = 0;
            while (true)
            {
                var entries = await queries.JournalAsync(id, after, 1000, cancellationToken).ConfigureAwait(false);
                foreach (var entry in entries)
                {
                    Console.WriteLine(Format(entry));
                    after = entry.Id;
                }

                if (entries.Count == 1000)
                {
                    continue;
                }

                if (!settings.Follow)
                {
                    return 0;
                }

                var view = await queries.ViewAsync(id, cancellationToken).ConfigureAwait(false);
                if (view!.Status is not WorkflowCore.Models.WorkflowStatus.Runnable)
                {
                    return 0;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    internal static string Format(JournalEntry entry) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{entry.Timestamp:yyyy-MM-ddTHH:mm:ss.fffZ} {entry.Step ?? "-",-12} {entry.Kind,-14} {(entry.Kind == JournalEntryKind.JobOutput ? "| " : string.Empty)}{entry.Message}{(entry.ExitStatus is { } s ? $" (exit {s})" : string.Empty)}");
}
