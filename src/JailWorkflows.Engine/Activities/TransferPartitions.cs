using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Transfers every partition of the source server into the jail root, in plan order (<c>/</c> first), each
/// as a host job on the jail host: <c>ssh root@source "dump -0ua -f - /part" | restore -rf -</c> inside
/// <c>&lt;jail root&gt;/&lt;part&gt;</c> (dump(8), restore(8); DESIGN.md D3: bulk data never passes through the engine).
/// The jail host's ssh(1) checks a known_hosts file written from the plan's pinned keys.
/// </summary>
/// <remarks>
/// Recovery (probe first): a partition with its completion marker is never redone; a job that exists is
/// re-attached; a new attempt first wipes what an interrupted restore left (file flags cleared), because a
/// new dump cannot resume an old one. A partition counts as done only when both sides exited 0 and restore
/// reported none of its failure phrases; <c>restoresymtable</c> is then removed.
/// </remarks>
public sealed class TransferPartitions(ActivityServices services) : Activity(services)
{
    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var partitions = run.Server.Partitions;
        var knownHosts = KnownHostsFile.PathOf(run);
        if (run.State.Phase.Length == 0)
        {
            // The known_hosts the transfer's ssh(1) checks: every source's pinned key, nothing learned on the fly.
            await run.RunCheckedAsync(ShellCommand.Of("mkdir", "-p", StateDir(run), run.JailStateDir + "/partitions", run.JailRoot.Path)).ConfigureAwait(false);
            await KnownHostsFile.EnsureAsync(run).ConfigureAwait(false);
            run.State.Phase = "transfer";
            return run.Checkpoint();
        }

        var level = (int?)run.Inputs["dumpLevel"] ?? 0;
        var snapshot = (bool?)run.Inputs["snapshot"] ?? true;
        var release = FreeBsdRelease.Parse(run.Server.Release ?? "4.0-RELEASE");
        while (run.State.Index < partitions.Count)
        {
            var partition = partitions[run.State.Index];
            var target = Transfer.TargetDirectory(run.JailRoot, partition.MountPoint);
            var marker = $"{run.JailStateDir}/partitions/{MarkerName(partition.MountPoint)}.done";
            var jobId = $"{run.InstanceId}-{run.StepId}-p{run.State.Index}-a{run.State.Attempt}";
            var jobDir = $"{run.JailHostSpec.JobsDir}/{jobId}";
            if (run.State.JobId != jobId)
            {
                if (await run.ExistsAsync(marker).ConfigureAwait(false))
                {
                    await run.JournalAsync(JournalEntryKind.Info, $"partition {partition.MountPoint} already transferred; not redone").ConfigureAwait(false);
                    run.State.Index++;
                    run.State.Attempt = 0;
                    continue;
                }

                var jobs = await run.JobsAsync().ConfigureAwait(false);
                var existing = await jobs.PollAsync(jobId, 0, run.CancellationToken).ConfigureAwait(false);
                if (existing.Status == Hosts.HostJobStatus.NotStarted)
                {
                    // Whatever an earlier, interrupted attempt left is wiped: restore -r wants an empty directory.
                    await run.RunCheckedAsync(Wipe(run.JailRoot, partition.MountPoint)).ConfigureAwait(false);
                    await run.JournalAsync(JournalEntryKind.Info, $"partition {partition.MountPoint}: transfer into {target} (attempt {run.State.Attempt + 1})").ConfigureAwait(false);
                }
            }

            var pipeline = Transfer.Pipeline(
                run.Server.Ssh,
                release,
                partition.MountPoint,
                run.JailHostSpec.TransferKeyFile,
                knownHosts,
                run.JailRoot,
                jobDir + "/dump.status",
                jobDir + "/restore.status",
                level,
                snapshot,
                jobDir + "/tmp");
            var exit = await run.RunJobAsync(jobId, pipeline).ConfigureAwait(false);
            if (exit is null)
            {
                return run.Sleep();
            }

            var host = await run.JailHostAsync().ConfigureAwait(false);
            var dumpStatus = await host.ReadFileAsync(jobDir + "/dump.status", run.CancellationToken).ConfigureAwait(false);
            var restoreStatus = await host.ReadFileAsync(jobDir + "/restore.status", run.CancellationToken).ConfigureAwait(false);
            var output = await run.JobOutputAsync(jobId).ConfigureAwait(false);
            var verdict = Transfer.Judge(dumpStatus, restoreStatus, output, snapshot && Dump.UsesSnapshot(release));
            if (exit != 0 || !verdict.Complete)
            {
                run.State.Attempt++;
                run.State.JobId = null;
                throw run.Fail($"partition {partition.MountPoint} of {run.Server.Name}: transfer failed ({string.Join("; ", verdict.Problems.DefaultIfEmpty($"job exit {exit}"))}); resume wipes it and transfers it again");
            }

            if (!verdict.SnapshotConsistent)
            {
                await run.JournalAsync(JournalEntryKind.Warning, $"partition {partition.MountPoint}: dump ran without a snapshot (not snapshot-consistent)").ConfigureAwait(false);
            }

            // restoresymtable is only needed for a later incremental restore; it must not stay in the jail.
            await run.RunCheckedAsync(ShellCommand.Of("rm", "-f", target + "/restoresymtable")
                .And(ShellCommand.Of("touch", marker))).ConfigureAwait(false);
            await run.JournalAsync(JournalEntryKind.Info, $"partition {partition.MountPoint} transferred").ConfigureAwait(false);
            run.State.Index++;
            run.State.Attempt = 0;
            return run.Checkpoint();
        }

        return ExecutionResult.Next();
    }

    internal static string MarkerName(string mountPoint) => mountPoint == "/" ? "root" : mountPoint.Trim('/').Replace('/', '_');

    private static string StateDir(ActivityRun run) => JailRoot.ValidateDirectory(run.JailHostSpec.StateDir, "jailHost.stateDir");

    private static ShellCommand Wipe(JailRoot root, string mountPoint)
    {
        var target = Transfer.TargetDirectory(root, mountPoint);
        return ShellCommand.Of("mkdir", "-p", target)
            .And(Chflags.ClearRecursive(root, mountPoint))
            .And(ShellCommand.Of("find", target, "-mindepth", "1", "-maxdepth", "1", "-exec", "rm", "-rf", "{}", "+"));
    }
}
