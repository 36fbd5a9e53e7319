using System.ComponentModel;
using JailWorkflows.Engine;
using JailWorkflows.Server;
using Spectre.Console;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary>Settings of the operator decisions on an incident: the instance and the reason (required, journaled).</summary>
internal class DecisionSettings : InstanceSettings
{
    [CommandOption("--reason <TEXT>")]
    [Description("Why (required; written to the journal with your user name).")]
    public string? Reason { get; init; }

    public override ValidationResult Validate() =>
        string.IsNullOrWhiteSpace(Reason) ? ValidationResult.Error("--reason is required: say why (it is written to the journal).") : base.Validate();
}

/// <summary>How the decision commands (retry, skip, resume) report what holds an instance suspended after their decision.</summary>
internal static class DecisionText
{
    /// <summary>
    /// Markup to append to a decision's message: empty when the instance is runnable now (or <paramref name="suspendedBy"/>
    /// is null: an older serve did not say); else that the instance stays suspended until the other failed branches'
    /// incidents have a decision too, in the journal's words.
    /// </summary>
    /// <param name="suspendedBy">The incidents still open that hold the instance suspended, oldest first.</param>
    public static string StillSuspended(IReadOnlyList<HoldingIncident>? suspendedBy) => suspendedBy switch
    {
        null or [] => string.Empty,
        [var one] => $"; the instance stays suspended until the incident of step [bold]{Markup.Escape(one.Step)}[/] has a decision too",
        _ => $"; the instance stays suspended until the incidents of steps {string.Join(", ", suspendedBy.Select(i => $"[bold]{Markup.Escape(i.Step)}[/]"))} have a decision too",
    };
}

/// <summary><c>jailwf retry &lt;instance&gt; --reason …</c>: the failed step of an instance with an incident runs again, then the instance is followed.</summary>
internal sealed class RetryCommand : AsyncCommand<DecisionSettings>
{
    private static string Retrying(string step, string id, IReadOnlyList<HoldingIncident>? suspendedBy) =>
        $"retrying step [bold]{Markup.Escape(step)}[/] of instance {id}{DecisionText.StillSuspended(suspendedBy)}";

    public override async Task<int> ExecuteAsync(CommandContext context, DecisionSettings settings, CancellationToken cancellationToken)
    {
        await settings.RefuseUnlessAsync(v => v.State == InstanceState.Incident, "retry", cancellationToken).ConfigureAwait(false);
        if (await settings.ThroughServeAsync("retry", new DecisionRequest(settings.Reason), d => Retrying(d.Step ?? "?", d.Instance, d.SuspendedBy), follow: true, cancellationToken).ConfigureAwait(false) is { } served)
        {
            return served;
        }

        return await settings.DecideAndFollowAsync(
            async (engine, id) =>
            {
                var retried = await engine.RetryAsync(id, settings.Reason!, cancellationToken).ConfigureAwait(false);
                return Retrying(retried.Step, id, retried.SuspendedBy);
            },
            cancellationToken).ConfigureAwait(false);
    }
}

/// <summary><c>jailwf skip &lt;instance&gt; --reason … [--force]</c>: the failed step is skipped and the next one runs.</summary>
internal sealed class SkipCommand : AsyncCommand<SkipCommand.Settings>
{
    private static string Skipped(string step, string id, IReadOnlyList<HoldingIncident>? suspendedBy) =>
        $"skipped step [bold]{Markup.Escape(step)}[/] of instance {id}{DecisionText.StillSuspended(suspendedBy)}";

    public sealed class Settings : DecisionSettings
    {
        [CommandOption("--force")]
        [Description("Skip even when a later step needs the step's result (you made it by hand).")]
        public bool Force { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        await settings.RefuseUnlessAsync(v => v.State == InstanceState.Incident, "skip", cancellationToken).ConfigureAwait(false);
        if (await settings.ThroughServeAsync("skip", new DecisionRequest(settings.Reason, settings.Force), d => Skipped(d.Step ?? "?", d.Instance, d.SuspendedBy), follow: true, cancellationToken).ConfigureAwait(false) is { } served)
        {
            return served;
        }

        return await settings.DecideAndFollowAsync(
            async (engine, id) =>
            {
                var skipped = await engine.SkipAsync(id, settings.Reason!, settings.Force, cancellationToken).ConfigureAwait(false);
                return Skipped(skipped.Step, id, skipped.SuspendedBy);
            },
            cancellationToken).ConfigureAwait(false);
    }
}

/// <summary><c>jailwf abort &lt;instance&gt; --reason …</c>: ends an unfinished instance, killing its host job.</summary>
internal sealed class AbortCommand : AsyncCommand<DecisionSettings>
{
    private static string Aborted(string id, string? killed) => $"aborted instance {id}{(killed is null ? string.Empty : $"; host job {Markup.Escape(killed)} killed")}; its jail root is left as it is";

    public override async Task<int> ExecuteAsync(CommandContext context, DecisionSettings settings, CancellationToken cancellationToken)
    {
        await settings.RefuseUnlessAsync(v => v.State is not (InstanceState.Complete or InstanceState.Aborted), "abort", cancellationToken).ConfigureAwait(false);
        if (await settings.ThroughServeAsync("abort", new DecisionRequest(settings.Reason), d => Aborted(d.Instance, d.Detail), follow: false, cancellationToken).ConfigureAwait(false) is { } served)
        {
            return served;
        }

        var (engine, id) = await settings.StartEngineForInstanceAsync(cancellationToken, runInstances: false).ConfigureAwait(false);
        await using var _ = engine.ConfigureAwait(false);
        var killed = await engine.AbortAsync(id, settings.Reason!, cancellationToken).ConfigureAwait(false);
        AnsiConsole.MarkupLine(Aborted(id, killed));
        return 0;
    }
}
