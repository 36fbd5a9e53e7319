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
/// reported none of its failure phrases; <c>restoresymtable</c> is then removed.
/// </remarks>
public sealed class TransferPartitions(ActivityServices services) : Activity(services)
{
    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var partitions = run.Server.Partitions;
        var knownHosts = StateDir(run) + "/known_hosts";
        if (run.State.Phase.Length == 0)
        {
            // The known_hosts the transfer's ssh(1) checks: every source's pinned key, nothing learned on the fly.
            var lines = run.Data.Plan.Servers.Select(s => KnownHosts.Line(s.Ssh.Address, s.Ssh.Port, s.Ssh.HostKey));
            await run.RunCheckedAsync(ShellCommand.Of("mkdir", "-p", StateDir(run), run.JailStateDir + "/partitions", run.JailRoot.Path)).ConfigureAwait(false);
            var host = await run.JailHostAsync().ConfigureAwait(false);
            await host.WriteFileAsync(knownHosts, Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"), "0644", run.CancellationToken).ConfigureAwait(false);
            run.State.Phase = "transfer";
            return run.Checkpoint();
        }

        var level = (int?)run.Inputs["dumpLevel"] ?? 0;
        var snapshot = (bool?)run.Inputs["snapshot"] ?? true;
        var release = FreeBsdRelease.Parse(run.Server.Release ?? "4.0-RELEASE");
        while (run.State.Index < partitions.Count)
        {
            var partition = partitions[run.State.Index];
            var target = run.JailRoot.Combine(partition.MountPoint);
            var marker = $"{run.JailStateDir}/partitions/{MarkerName(partition.MountPoint)}.done";
            var jobId = $"{run.InstanceId}-{run.StepId}-p{run.State.Index}-a{run.State.Attempt}";
            var jobDir = $"{run.JailHostSpec.JobsDir}/{jobId}";
            if (run.State.JobId != jobId)
            {
                if (await run.ExistsAsync(marker).ConfigureAwait(false))
                {
                    await run.JournalAsync(JournalKind.Info, $"partition {partition.MountPoint} already transferred; not redone").ConfigureAwait(false);
                    run.State.Index++;
                    run.State.Attempt = 0;
                    continue;
                }

                var jobs = await run.JobsAsync().ConfigureAwait(false);
                var existing = await jobs.PollAsync(jobId, 0, run.CancellationToken).ConfigureAwait(false);
                if (existing.Status == Hosts.HostJobStatus.NotStarted)
                {
                    // Whatever an earlier, interrupted attempt left is wiped: restore -r wants an empty directory.
                    await run.RunCheckedAsync(Wipe(target)).ConfigureAwait(false);
                    await run.JournalAsync(JournalKind.Info, $"partition {partition.MountPoint}: transfer into {target} (attempt {run.State.Attempt + 1})").ConfigureAwait(false);
                }
            }

            var pipeline = Transfer.Pipeline(
                run.Server.Ssh,
                release,
                Dump.Command(release, level, partition.MountPoint, snapshot),
                run.JailHostSpec.TransferKeyFile,
                knownHosts,
                run.JailRoot,
                partition.MountPoint,
                jobDir + "/dump.status",
                jobDir + "/restore.status");
            var exit = await run.RunJobAsync(jobId, pipeline).ConfigureAwait(false);
            if (exit is null)
            {
                return run.Sleep();
            }

            var dumpStatus = await ReadStatusAsync(run, jobDir + "/dump.status").ConfigureAwait(false);
            var restoreStatus = await ReadStatusAsync(run, jobDir + "/restore.status").ConfigureAwait(false);
            var output = await run.JobOutputAsync(jobId).ConfigureAwait(false);
            var phrases = Restore.FailureIn(output);
            if (exit != 0 || dumpStatus != 0 || restoreStatus != 0 || phrases.Count > 0)
            {
                run.State.Attempt++;
                run.State.JobId = null;
                throw run.Fail($"partition {partition.MountPoint} of {run.Server.Name}: transfer failed (ssh/dump exit {Show(dumpStatus)}, restore exit {Show(restoreStatus)}{(phrases.Count > 0 ? ", restore reported: " + string.Join(", ", phrases) : string.Empty)}); resume wipes it and transfers it again");
            }

            // restoresymtable is only needed for a later incremental restore; it must not stay in the jail.
            await run.RunCheckedAsync(ShellCommand.Of("rm", "-f", target + "/restoresymtable")
                .And(ShellCommand.Of("touch", marker))).ConfigureAwait(false);
            await run.JournalAsync(JournalKind.Info, $"partition {partition.MountPoint} transferred").ConfigureAwait(false);
            run.State.Index++;
            run.State.Attempt = 0;
            return run.Checkpoint();
        }

        return ExecutionResult.Next();
    }

    internal static string MarkerName(string mountPoint) => mountPoint == "/" ? "root" : mountPoint.Trim('/').Replace('/', '_');

    private static string StateDir(ActivityRun run) => JailRoot.ValidateDirectory(run.JailHostSpec.StateDir, "jailHost.stateDir");

    private static ShellCommand Wipe(string target) =>
        ShellCommand.Of("mkdir", "-p", target)
            .And(ShellCommand.Of("chflags", "-R", "noschg,nouchg,nosunlnk", target))
            .And(ShellCommand.Of("find", target, "-mindepth", "1", "-maxdepth", "1", "-exec", "rm", "-rf", "{}", "+"));

    private static async Task<int?> ReadStatusAsync(ActivityRun run, string path)
    {
        var host = await run.JailHostAsync().ConfigureAwait(false);
        var text = await host.ReadFileAsync(path, run.CancellationToken).ConfigureAwait(false);
        return int.TryParse(text?.Trim(), out var status) ? status : null;
    }

    private static string Show(int? status) => status?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown";
}
