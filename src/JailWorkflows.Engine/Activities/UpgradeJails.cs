using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using Microsoft.Extensions.DependencyInjection;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Brings the plan's jails to the world the jail host built, one jail at a time, each by an instance of a server
/// definition (input <c>definition</c>, default <c>upgrade-jail</c>: stop, installworld, merge /etc, start, verify) that
/// this step starts and waits for. A jail is left alone when its jail root is missing on the jail host (not consolidated
/// there yet), when it has this world installed already (the InstallWorld marker holds the world's stamp), or when another
/// unfinished instance works on it. A jail's instance that stops with an incident or waits for an approval is decided on
/// there (<c>jailwf status &lt;its id&gt;</c>); this step waits for it. An aborted one fails this step; its retry starts a new one.
/// </summary>
/// <remarks>
/// Recovery: probe first. The started instance's id is checkpointed, and each start carries an origin
/// (<c>&lt;instance&gt;/&lt;step&gt;/a&lt;attempt&gt;</c>) that makes it idempotent: a rerun after a crash between the start and the
/// checkpoint finds the instance instead of starting a second one.
/// </remarks>
public sealed class UpgradeJails(ActivityServices services, IServiceProvider provider) : Activity(services)
{
    private const string ChildKey = "upgrade.instance";

    private const string ReportedKey = "upgrade.reported";

    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var engine = provider.GetRequiredService<EngineHandle>().Engine
            ?? throw new InvalidOperationException("UpgradeJails runs only inside a started engine.");
        var definition = (string?)run.Inputs["definition"] ?? "upgrade-jail";
        var servers = run.Data.Plan.Servers;
        if (run.State.Index >= servers.Count)
        {
            await run.JournalAsync(JournalEntryKind.Info, $"every jail of the plan on {run.JailHostSpec.Name} was looked at ({servers.Count})").ConfigureAwait(false);
            return ExecutionResult.Next();
        }

        var server = servers[run.State.Index];
        if (run.State.Values.TryGetValue(ChildKey, out var child))
        {
            var view = await engine.Queries.ViewAsync(child, run.CancellationToken).ConfigureAwait(false);
            switch (view?.State)
            {
                case InstanceState.Complete:
                    await run.JournalAsync(JournalEntryKind.Info, $"jail {server.Jail.Name} ({server.Name}) upgraded by instance {child}").ConfigureAwait(false);
                    return NextJail(run);
                case InstanceState.Aborted or null:
                    run.State.Values.Remove(ChildKey);
                    run.State.Values.Remove(ReportedKey);
                    run.State.Attempt++;
                    throw run.Fail($"the upgrade of jail {server.Jail.Name} ({server.Name}), instance {child}, was aborted; retry this step to start a new one, or skip it to leave the remaining jails");
                case InstanceState.Incident or InstanceState.AwaitingApproval when !run.State.Values.ContainsKey(ReportedKey):
                    run.State.Values[ReportedKey] = child;
                    await run.JournalAsync(JournalEntryKind.Warning, $"the upgrade of jail {server.Jail.Name}, instance {child}, waits for a decision ({view.State}; jailwf status {child}); this step waits for it").ConfigureAwait(false);
                    return run.Sleep();
                default:
                    return run.Sleep();
            }
        }

        var jailRoot = JailRoot.Create(run.JailHostSpec.JailsDir, server.Jail.Name);
        if (!await run.ExistsAsync(jailRoot.ToString()).ConfigureAwait(false))
        {
            await run.JournalAsync(JournalEntryKind.Info, $"jail {server.Jail.Name} ({server.Name}): no jail root {jailRoot} on {run.JailHostSpec.Name} (not consolidated there yet); left alone").ConfigureAwait(false);
            return NextJail(run);
        }

        var world = await WorldInfo.ReadAsync(run).ConfigureAwait(false);
        var host = await run.JailHostAsync().ConfigureAwait(false);
        if (await host.ReadFileAsync(world.StampPath, run.CancellationToken).ConfigureAwait(false) != world.Stamp)
        {
            throw run.Fail($"no finished world in {world.ObjDir} (stamp missing or stale): BuildWorld must finish before the jails are upgraded");
        }

        var marker = JailRoot.ValidateDirectory(run.JailHostSpec.StateDir, "jailHost.stateDir") + "/jails/" + server.Jail.Name + "/installworld.done";
        if (await host.ReadFileAsync(marker, run.CancellationToken).ConfigureAwait(false) == world.Stamp)
        {
            await run.JournalAsync(JournalEntryKind.Info, $"jail {server.Jail.Name} ({server.Name}) has world {world.Release} installed already; left alone").ConfigureAwait(false);
            return NextJail(run);
        }

        string id;
        try
        {
            var started = await engine.StartRunAsync(definition, run.Data.Plan, [server.Name], $"{run.InstanceId}/{run.StepId}/a{run.State.Attempt}", run.CancellationToken).ConfigureAwait(false);
            id = started[0].Id;
        }
        catch (InstanceConflictException ex)
        {
            await run.JournalAsync(JournalEntryKind.Warning, $"jail {server.Jail.Name} ({server.Name}) left alone: {ex.Message}").ConfigureAwait(false);
            return NextJail(run);
        }

        run.State.Values[ChildKey] = id;
        await run.JournalAsync(JournalEntryKind.Info, $"jail {server.Jail.Name} ({server.Name}): world {world.Release} is installed by instance {id} of {definition}").ConfigureAwait(false);
        return run.Checkpoint();
    }

    private static ExecutionResult NextJail(ActivityRun run)
    {
        run.State.Values.Remove(ChildKey);
        run.State.Values.Remove(ReportedKey);
        run.State.Index++;
        run.State.Attempt = 0;
        return run.Checkpoint();
    }
}
