using JailWorkflows.Engine.Store;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Installs the built world into the jail root: <c>make installworld DESTDIR=&lt;jail root&gt;</c> (build(7)).
/// Refused while the jail runs and when no finished world (stamp) exists. installworld is idempotent, so a
/// rerun repairs a half-finished install; a marker holding the world stamp makes a finished one a no-op.
/// </summary>
public sealed class InstallWorld(ActivityServices services) : Activity(services)
{
    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var world = await WorldInfo.ReadAsync(run).ConfigureAwait(false);
        var host = await run.JailHostAsync().ConfigureAwait(false);
        var marker = run.JailStateDir + "/installworld.done";
        if (run.State.JobId is null)
        {
            var stamp = await host.ReadFileAsync(world.StampPath, run.CancellationToken).ConfigureAwait(false);
            if (stamp != world.Stamp)
            {
                throw run.Fail($"no finished world in {world.ObjDir} (stamp missing or stale): run BuildWorld first; an unfinished world is never installed");
            }

            if (await host.ReadFileAsync(marker, run.CancellationToken).ConfigureAwait(false) == world.Stamp)
            {
                await run.JournalAsync(JournalEntryKind.Info, $"world {world.Release} already installed in {run.JailRoot}").ConfigureAwait(false);
                return ExecutionResult.Next();
            }

            if ((await run.RunAsync(ShellCommand.Of("jls", "-j", run.Server.Jail.Name)).ConfigureAwait(false)).Succeeded)
            {
                throw run.Fail($"jail {run.Server.Jail.Name} is running: installworld into a running jail is refused; stop it first");
            }
        }

        var command = FreeBsd.Make.InstallWorld(world.SrcDir, run.JailRoot, world.ObjDir);
        var exit = await run.RunJobAsync($"{run.InstanceId}-{run.StepId}-a{run.State.Attempt}", command).ConfigureAwait(false);
        if (exit is null)
        {
            return run.Sleep();
        }

        if (exit != 0)
        {
            run.State.Attempt++;
            throw run.Fail($"installworld into {run.JailRoot} failed (exit {exit}); resume runs it again (installworld repairs a half-finished install)");
        }

        await host.WriteFileAsync(marker, System.Text.Encoding.UTF8.GetBytes(world.Stamp), "0644", run.CancellationToken).ConfigureAwait(false);
        return ExecutionResult.Next();
    }
}
