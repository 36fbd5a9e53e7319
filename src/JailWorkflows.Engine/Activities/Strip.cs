using System.Text;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Strips what a jail must not carry (FREEBSD.md, "The strip step"): backs up <c>etc</c> once (outside the
/// jail root), clears file flags and removes <c>usr/src</c>, <c>usr/ports</c> (recreated empty), the
/// objdir, <c>boot</c>, <c>kernel*</c> and <c>dev</c> (recreated empty, 0555), reduces rc.conf to the
/// enabled services (each removed and each kept setting journaled), empties fstab and removes any <c>restoresymtable</c>
/// left in a partition's directory. Running it twice changes nothing.
/// </summary>
public sealed class Strip(ActivityServices services) : Activity(services)
{
    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var root = run.JailRoot;
        if (run.State.Phase.Length == 0)
        {
            var backup = run.JailStateDir + "/etc.orig";
            var partitions = run.Server.Partitions.Select(p => p.MountPoint == "/" ? "." : p.MountPoint.TrimStart('/')).ToList();
            await run.RequireNoSymlinksAsync(["etc", "usr/src", "usr/ports", "usr/obj", "boot", "dev", .. partitions.Where(p => p != ".")]).ConfigureAwait(false);
            var script = ShellCommand.Of("mkdir", "-p", run.JailStateDir)
                .And(ShellCommand.Of("test", "-d", backup)
                    .Or(ShellCommand.Of("rm", "-rf", backup + ".tmp")
                        .And(ShellCommand.Of("cp", "-Rp", root.Combine("etc"), backup + ".tmp"))
                        .And(ShellCommand.Of("mv", backup + ".tmp", backup))
                        .Subshell()))
                .And(FreeBsd.Strip.Command(root, partitions));
            var exit = await run.RunJobAsync($"{run.InstanceId}-{run.StepId}-a{run.State.Attempt}", script).ConfigureAwait(false);
            if (exit is null)
            {
                return run.Sleep();
            }

            if (exit != 0)
            {
                run.State.Attempt++;
                throw run.Fail($"strip of {root} failed (exit {exit}); see the job output in the journal", retryable: true);
            }

            run.State.Phase = "config";
            return run.Checkpoint();
        }

        var host = await run.JailHostAsync().ConfigureAwait(false);
        var rcConfPath = root.Combine("etc/rc.conf");
        await run.RequireNoSymlinksAsync("etc/rc.conf", "etc/fstab").ConfigureAwait(false);
        var rcConf = await host.ReadFileAsync(rcConfPath, run.CancellationToken).ConfigureAwait(false);
        if (rcConf is not null)
        {
            var reduced = RcConf.Reduce(rcConf);
            foreach (var line in reduced.Removed)
            {
                await run.JournalAsync(JournalEntryKind.Info, $"rc.conf: removed line {line.LineNumber} ({line.Reason}): {line.Text}").ConfigureAwait(false);
            }

            foreach (var line in reduced.Kept.Split('\n').Select(l => l.TrimEnd('\r').Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')))
            {
                await run.JournalAsync(JournalEntryKind.Info, $"rc.conf: kept: {line}").ConfigureAwait(false);
            }

            foreach (var line in reduced.Unrecognised)
            {
                await run.JournalAsync(JournalEntryKind.Warning, $"rc.conf: line {line.LineNumber} kept but not understood, check it: {line.Text}").ConfigureAwait(false);
            }

            if (reduced.Kept != rcConf)
            {
                await host.WriteFileAsync(rcConfPath, Encoding.UTF8.GetBytes(reduced.Kept), "0644", run.CancellationToken).ConfigureAwait(false);
            }
        }

        var fstabPath = root.Combine("etc/fstab");
        var fstab = await host.ReadFileAsync(fstabPath, run.CancellationToken).ConfigureAwait(false);
        if (fstab is not null)
        {
            var emptied = Fstab.Emptied(fstab);
            if (emptied != fstab)
            {
                foreach (var entry in Fstab.Entries(fstab))
                {
                    await run.JournalAsync(JournalEntryKind.Info, $"fstab: removed {entry}").ConfigureAwait(false);
                }

                await host.WriteFileAsync(fstabPath, Encoding.UTF8.GetBytes(emptied), "0644", run.CancellationToken).ConfigureAwait(false);
            }
        }

        return ExecutionResult.Next();
    }
}
