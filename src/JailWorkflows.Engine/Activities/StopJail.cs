using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Stops the jail with <c>service jail stop &lt;name&gt;</c> (rc.d/jail: the jail's <c>exec.stop</c>, then
/// <c>jail -r</c>). Success when <c>jls -j &lt;name&gt;</c> no longer lists it; a jail that is not running is left alone
/// (stopping a stopped jail succeeds). As in StartJail, <c>jail -f &lt;file&gt; -r &lt;name&gt;</c> is used when rc.d/jail
/// does not read the plan's jail.conf file.
/// </summary>
public sealed class StopJail(ActivityServices services) : Activity(services)
{
    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var jail = run.Server.Jail;
        if (await JailConfFile.RunningAsync(run).ConfigureAwait(false) is null)
        {
            await run.JournalAsync(JournalEntryKind.Info, $"jail {jail.Name} is not running; nothing done").ConfigureAwait(false);
            return ExecutionResult.Next();
        }

        var conf = await JailConfFile.EnsureAsync(run).ConfigureAwait(false);
        var stop = await JailConfFile.RcdJailReadsAsync(run, conf).ConfigureAwait(false)
            ? await run.RunAsync(RcdJail.Stop(jail.Name)).ConfigureAwait(false)
            : await run.RunAsync(Jail.Remove(conf, jail.Name)).ConfigureAwait(false);
        if (await JailConfFile.RunningAsync(run).ConfigureAwait(false) is { } still)
        {
            var output = string.Join(" / ", (stop.StdOut + "\n" + stop.StdErr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            throw run.Fail($"jail {jail.Name} (JID {still.Jid}) did not stop: jls -j {jail.Name} still lists it (exit {stop.ExitStatus}: {output})", retryable: true);
        }

        await run.JournalAsync(JournalEntryKind.Info, $"jail {jail.Name} stopped").ConfigureAwait(false);
        return ExecutionResult.Next();
    }
}
