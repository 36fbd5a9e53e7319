using System.ComponentModel;
using JailWorkflows.Engine;
using JailWorkflows.Server;
using Spectre.Console;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary>
/// <c>jailwf approve &lt;instance&gt; [--reason &lt;text&gt;]</c>: a person's go-ahead for what the instance waits for (the
/// files MergeEtc left for a person); the instance continues and is followed to the end, as <c>resume</c> does.
/// </summary>
internal sealed class ApproveCommand : AsyncCommand<ApproveCommand.Settings>
{
    public sealed class Settings : InstanceSettings
    {
        [CommandOption("--reason <TEXT>")]
        [Description("Why it is approved (written to the journal).")]
        public string? Reason { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        await settings.RefuseUnlessAsync(v => v.State == InstanceState.AwaitingApproval, "approve", cancellationToken).ConfigureAwait(false);
        if (await settings.ThroughServeAsync("approve", new DecisionRequest(settings.Reason), d => $"approved step [bold]{Markup.Escape(d.Step ?? "?")}[/] of instance {d.Instance}: {Markup.Escape(d.Detail ?? string.Empty)}", follow: true, cancellationToken).ConfigureAwait(false) is { } served)
        {
            return served;
        }

        var (engine, id) = await settings.StartEngineForInstanceAsync(cancellationToken).ConfigureAwait(false);
        await using var _ = engine.ConfigureAwait(false);
        return await ApproveAndFollowAsync(engine, [id], settings.Reason, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Approves each instance, then follows them all to the end.</summary>
    public static async Task<int> ApproveAndFollowAsync(JailwfEngine engine, IReadOnlyList<string> ids, string? reason, CancellationToken cancellationToken)
    {
        foreach (var id in ids)
        {
            var request = await engine.ApproveAsync(id, reason, cancellationToken).ConfigureAwait(false);
            AnsiConsole.MarkupLine($"approved step [bold]{Markup.Escape(request.Step)}[/] of instance {id}: {Markup.Escape(request.Subject)}");
        }

        return await Monitor.FollowAsync(engine.Queries, ids, cancellationToken).ConfigureAwait(false);
    }
}
