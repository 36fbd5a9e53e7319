using System.Globalization;
using System.Text;
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
/// reported none of its failure phrases; <c>restoresymtable</c> is then removed. A dump that asked for a snapshot
/// (<c>-L</c>, 5.0 and later) and printed <c>dump downgraded, -L ignored</c> is an incident, not a success, unless the
/// step input <c>allowInconsistentDump</c> accepts it. dump's progress lines become <see cref="JournalEntryKind.Progress"/>
/// entries (percent done and time left), at most one per poll.
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
            // The known_hosts the transfer's ssh(1) checks is written before each job starts (below).
            await run.RunCheckedAsync(ShellCommand.Of("mkdir", "-p", run.JailStateDir + "/partitions", run.JailRoot.Path)).ConfigureAwait(false);
            run.State.Phase = "transfer";
            return run.Checkpoint();
        }

        var level = (int?)run.Inputs["dumpLevel"] ?? 0;
        var snapshot = (bool?)run.Inputs["snapshot"] ?? true;
        var allowInconsistent = (bool?)run.Inputs["allowInconsistentDump"] ?? false;
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

                await KnownHostsFile.EnsureAsync(run).ConfigureAwait(false);
                await run.JournalAsync(JournalEntryKind.Info, $"partition {partition.MountPoint}: transfer into {target} (attempt {run.State.Attempt + 1})").ConfigureAwait(false);
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

            // One job per attempt: refuse links, wipe what an earlier, interrupted attempt left (restore -r wants an
            // empty directory; a new dump cannot resume an old one), then dump | restore. The wipe is part of the
            // job, so it runs exactly once per attempt and never beside a running restore.
            var job = run.JailRoot.RefuseSymlinks(partition.MountPoint).And(Wipe(run.JailRoot, partition.MountPoint)).And(pipeline);
            var exit = await run.RunJobAsync(jobId, job, lines => JournalProgressAsync(run, partition.MountPoint, lines)).ConfigureAwait(false);
            if (exit is null)
            {
                return run.Sleep();
            }

            var host = await run.JailHostAsync().ConfigureAwait(false);
            var dumpStatus = await host.ReadFileAsync(jobDir + "/dump.status", run.CancellationToken).ConfigureAwait(false);
            var restoreStatus = await host.ReadFileAsync(jobDir + "/restore.status", run.CancellationToken).ConfigureAwait(false);
            var output = await run.JobOutputAsync(jobId).ConfigureAwait(false);
            var snapshotRequested = snapshot && Dump.UsesSnapshot(release);
            var verdict = Transfer.Judge(dumpStatus, restoreStatus, output, snapshotRequested);
            if (exit != 0 || !verdict.Complete)
            {
                run.State.Attempt++;
                run.State.JobId = null;
                throw run.Fail($"partition {partition.MountPoint} of {run.Server.Name}: transfer failed ({string.Join("; ", verdict.Problems.DefaultIfEmpty($"job exit {exit}"))}); resume wipes it and transfers it again", retryable: true);
            }

            if (snapshotRequested && !verdict.SnapshotConsistent)
            {
                // dump(8): "dump downgraded, -L ignored": the copy is of the live file system, not of a snapshot.
                if (!allowInconsistent)
                {
                    run.State.Attempt++;
                    run.State.JobId = null;
                    throw run.Fail($"partition {partition.MountPoint} of {run.Server.Name}: dump downgraded, -L ignored: the copy is of the live file system and not snapshot-consistent (is {SnapDirectory(partition.MountPoint)} missing on the source?). Fix the snapshot and resume (the partition is wiped and transferred again), or accept such copies with the step input allowInconsistentDump");
                }

                await run.JournalAsync(JournalEntryKind.Warning, $"partition {partition.MountPoint}: dump downgraded, -L ignored (not snapshot-consistent); accepted because allowInconsistentDump is set").ConfigureAwait(false);
            }
            else if (!verdict.SnapshotConsistent)
            {
                await run.JournalAsync(JournalEntryKind.Warning, $"partition {partition.MountPoint}: dump ran without a snapshot (not snapshot-consistent; {(snapshot ? $"{release} has no dump -L" : "snapshot not requested")})").ConfigureAwait(false);
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

    /// <summary>
    /// The progress entry for one poll's output lines: the last dump(8) progress line among them
    /// (<see cref="Dump.ParseStderrLine"/>) as <c>partition /usr: 45.23% done, 0:10 left</c>; null when none.
    /// </summary>
    internal static string? ProgressMessage(string mountPoint, IEnumerable<string> lines)
    {
        var last = lines.Select(Dump.ParseStderrLine).LastOrDefault(l => l.Kind == DumpLineKind.Progress);
        if (last?.PercentDone is not { } percent)
        {
            return null;
        }

        var left = last.Remaining is { } r
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)r.TotalHours}:{r.Minutes:00} left")
            : "finishing soon";
        return string.Create(CultureInfo.InvariantCulture, $"partition {mountPoint}: {percent:0.##}% done, {left}");
    }

    private static async Task JournalProgressAsync(ActivityRun run, string mountPoint, IReadOnlyList<string> lines)
    {
        if (ProgressMessage(mountPoint, lines) is { } message)
        {
            await run.JournalAsync(JournalEntryKind.Progress, message, run.State.JobId).ConfigureAwait(false);
        }
    }

    private static string SnapDirectory(string mountPoint) => mountPoint == "/" ? "/.snap" : mountPoint + "/.snap";

    internal static string MarkerName(string mountPoint) => mountPoint == "/" ? "root" : mountPoint.Trim('/').Replace('/', '_');

    private static ShellCommand Wipe(JailRoot root, string mountPoint)
    {
        var target = Transfer.TargetDirectory(root, mountPoint);
        return ShellCommand.Of("mkdir", "-p", target)
            .And(Chflags.ClearRecursive(root, mountPoint))
            .And(ShellCommand.Of("find", target, "-mindepth", "1", "-maxdepth", "1", "-exec", "rm", "-rf", "{}", "+"));
    }
}
