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

/// <summary><c>jailwf retry &lt;instance&gt; --reason …</c>: the failed step of an instance with an incident runs again, then the instance is followed.</summary>
internal sealed class RetryCommand : AsyncCommand<DecisionSettings>
{
    private static string Retrying(string step, string id) => $"retrying step [bold]{Markup.Escape(step)}[/] of instance {id}";

    public override async Task<int> ExecuteAsync(CommandContext context, DecisionSettings settings, CancellationToken cancellationToken)
    {
        await settings.RefuseUnlessAsync(v => v.State == InstanceState.Incident, "retry", cancellationToken).ConfigureAwait(false);
        if (await settings.ThroughServeAsync("retry", new DecisionRequest(settings.Reason), d => Retrying(d.Step ?? "?", d.Instance), follow: true, cancellationToken).ConfigureAwait(false) is { } served)
        {
            return served;
        }

        return await settings.DecideAndFollowAsync(async (engine, id) => Retrying(await engine.RetryAsync(id, settings.Reason!, cancellationToken).ConfigureAwait(false), id), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary><c>jailwf skip &lt;instance&gt; --reason … [--force]</c>: the failed step is skipped and the next one runs.</summary>
internal sealed class SkipCommand : AsyncCommand<SkipCommand.Settings>
{
    private static string Skipped(string step, string id) => $"skipped step [bold]{Markup.Escape(step)}[/] of instance {id}";

    public sealed class Settings : DecisionSettings
    {
        [CommandOption("--force")]
        [Description("Skip even when a later step needs the step's result (you made it by hand).")]
        public bool Force { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        await settings.RefuseUnlessAsync(v => v.State == InstanceState.Incident, "skip", cancellationToken).ConfigureAwait(false);
        if (await settings.ThroughServeAsync("skip", new DecisionRequest(settings.Reason, settings.Force), d => Skipped(d.Step ?? "?", d.Instance), follow: true, cancellationToken).ConfigureAwait(false) is { } served)
        {
            return served;
        }

        return await settings.DecideAndFollowAsync(async (engine, id) => Skipped(await engine.SkipAsync(id, settings.Reason!, settings.Force, cancellationToken).ConfigureAwait(false), id), cancellationToken).ConfigureAwait(false);
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
