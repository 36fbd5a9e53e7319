using JailWorkflows.Engine;
using Spectre.Console;
using WorkflowCore.Models;

namespace JailWorkflows.Cli.Commands;

/// <summary>
/// Follows instances until each has completed or stopped with an incident, showing every step's state and
/// the current host job's latest output line (a live table on a terminal, plain lines otherwise). Reads the
/// store, never the engine's events (those are not durable, DESIGN.md D1).
/// </summary>
internal static class Monitor
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    // Views are read again when the store changed (a commit anywhere), and at least this often for what changes without a
    // commit (an engine that died: Interrupted).
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(5);

    /// <summary>Follows the instances until each completed, failed or waits for an approval (with no parallel branch still running); returns 0 when all completed, 1 when any failed, 4 when any waits for an approval.</summary>
    public static async Task<int> FollowAsync(InstanceQueries queries, IReadOnlyList<string> instanceIds, CancellationToken cancellationToken)
    {
        IReadOnlyList<InstanceView> views = [];
        var changes = await queries.WatchChangesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var changesScope = changes.ConfigureAwait(false);

        if (AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
        {
            await AnsiConsole.Live(new Text("starting…")).AutoClear(false).StartAsync(async live =>
            {
                while (true)
                {
                    if (!await changes.ReadDueAsync(Refresh, cancellationToken).ConfigureAwait(false))
                    {
                        await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    views = await ReadAsync(queries, instanceIds, cancellationToken).ConfigureAwait(false);
                    live.UpdateTarget(Render(views));
                    if (views.All(Settled))
                    {
                        return;
                    }

                    await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        }
        else
        {
            var seen = new Dictionary<string, string>(StringComparer.Ordinal);
            while (true)
            {
                if (!await changes.ReadDueAsync(Refresh, cancellationToken).ConfigureAwait(false))
                {
                    await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                views = await ReadAsync(queries, instanceIds, cancellationToken).ConfigureAwait(false);
                foreach (var view in views)
                {
                    foreach (var step in view.Steps)
                    {
                        var key = view.Id + "/" + step.Id;
                        var text = step.State.ToString();
                        if (!seen.TryGetValue(key, out var old) || old != text)
                        {
                            seen[key] = text;
                            if (step.State != StepState.Waiting)
                            {
                                Console.WriteLine($"[{view.Server}] {step.Id}: {text.ToLowerInvariant()}");
                            }
                        }
                    }

                    if (view.LastOutput is { } output && (!seen.TryGetValue(view.Id + "/output", out var last) || last != output))
                    {
                        seen[view.Id + "/output"] = output;
                        Console.WriteLine($"[{view.Server}]   | {output}");
                    }
                }

                if (views.All(Settled))
                {
                    break;
                }

                await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
            }
        }

        return Summarize(views);
    }

    /// <summary>The other runnable instances the started engine continues too (interrupted ones); each is named on the console.</summary>
    public static async Task<IReadOnlyList<string>> AlsoRunningAsync(JailwfEngine engine, string id, CancellationToken cancellationToken)
    {
        var others = (await engine.RunnableInstancesAsync(cancellationToken).ConfigureAwait(false)).Where(o => o != id).ToList();
        foreach (var other in others)
        {
            AnsiConsole.MarkupLine($"also continuing interrupted instance {other}");
        }

        return others;
    }

    private static async Task<IReadOnlyList<InstanceView>> ReadAsync(InstanceQueries queries, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        var views = new List<InstanceView>();
        foreach (var id in ids)
        {
            views.Add(await queries.ViewAsync(id, cancellationToken).ConfigureAwait(false) ?? throw new KeyNotFoundException($"No workflow instance '{id}'."));
        }

        return views;
    }

    // An approval settles an instance only once no parallel branch of it runs any more: the engine goes on with those meanwhile.
    private static bool Settled(InstanceView view) => view.Status is WorkflowStatus.Complete or WorkflowStatus.Terminated or WorkflowStatus.Suspended
        || view.Approval is not null && !view.Steps.Any(s => s.State == StepState.Running);

    private static int Summarize(IReadOnlyList<InstanceView> views)
    {
        var failed = false;
        var waiting = false;
        foreach (var view in views)
        {
            if (view.Status == WorkflowStatus.Complete)
            {
                AnsiConsole.MarkupLine($"[green]✔[/] {Markup.Escape(view.Server ?? view.Id)}: {Markup.Escape(view.Definition)} v{view.Version} completed (instance {view.Id})");
                continue;
            }

            if (view.Approval is { } approval)
            {
                waiting = true;
                AnsiConsole.MarkupLine($"[yellow]⏸[/] {Markup.Escape(view.Server ?? view.Id)}: waits for approval at step [bold]{Markup.Escape(approval.Step)}[/]: {Markup.Escape(approval.Subject)}");
                AnsiConsole.MarkupLine($"  after looking at them: [bold]jailwf approve {view.Id} --reason \"...\"[/]; journal: jailwf logs {view.Id}");
                continue;
            }

            if (view.Status == WorkflowStatus.Terminated)
            {
                AnsiConsole.MarkupLine($"[grey]■[/] {Markup.Escape(view.Server ?? view.Id)}: aborted (instance {view.Id})");
                continue;
            }

            failed = true;
            var step = view.Incident?.Step ?? view.Current?.Id;
            Consoles.Error.MarkupLine($"[red]✘[/] {Markup.Escape(view.Server ?? view.Id)}: incident at step [bold]{Markup.Escape(step ?? "?")}[/]: {Markup.Escape(view.Incident?.Error ?? view.LastError ?? "no error recorded")}");
            foreach (var line in (view.Incident?.OutputTail ?? string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(5))
            {
                Consoles.Error.MarkupLine($"  | {Markup.Escape(line)}");
            }

            Consoles.Error.MarkupLine($"  decide: [bold]jailwf retry {view.Id} --reason \"...\"[/] (after fixing the cause), skip or abort; journal: jailwf logs {view.Id}");
        }

        return failed ? ExitCodes.WorkflowFailed : waiting ? ExitCodes.WaitsForApproval : 0;
    }

    private static Table Render(IReadOnlyList<InstanceView> views)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("Server").AddColumn("Steps").AddColumn("Latest output");
        foreach (var view in views)
        {
            var steps = string.Join(" ", view.Steps.Select(s => s.State switch
            {
                StepState.Done => $"[green]{Markup.Escape(s.Id)}✔[/]",
                StepState.Running => $"[yellow]{Markup.Escape(s.Id)}…[/]",
                StepState.Failed => $"[red]{Markup.Escape(s.Id)}✘[/]",
                StepState.AwaitingApproval => $"[yellow]{Markup.Escape(s.Id)}⏸[/]",
                StepState.Skipped => $"[grey]{Markup.Escape(s.Id)}↷[/]",
                _ => $"[grey]{Markup.Escape(s.Id)}[/]",
            }));
            var output = view.LastOutput ?? string.Empty;
            table.AddRow(new Markup(Markup.Escape(view.Server ?? view.Id[..8])), new Markup(steps), new Text(output.Length > 60 ? output[..60] + "…" : output));
        }

        return table;
    }
}
