using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// The cutover with little downtime (a plan's <see cref="Plans.SourceServerSpec.Cutover"/>), after the live level-0
/// transfer kept <c>restoresymtable</c> in each partition and a person approved the downtime (<see cref="RequestApproval"/>):
/// <list type="number">
/// <item>stops the source's services over ssh from the jail host, with the transfer's pinned ssh command line:
/// <c>sh &lt;script&gt; stop</c> (<see cref="RcScripts.Stop"/>) for every service the source's rc.conf enables that has an
/// (executable) rc script, read from the level-0 copy in the jail root (<c>etc/rc.conf</c>; <c>etc/rc.d/&lt;s&gt;</c>,
/// <c>usr/local/etc/rc.d/&lt;s&gt;</c>, 4.x <c>usr/local/etc/rc.d/&lt;s&gt;.sh</c>). Each is journaled; they stay stopped (the
/// jail takes over), and the journal says how to start them again on the source when the consolidation is abandoned;</item>
/// <item>per partition a host job <c>ssh … "dump -1ua[L] -f - &lt;part&gt;" | restore -rf -</c> in &lt;jail root&gt;/&lt;part&gt;
/// (dump(8) <c>-1 -u</c> uses the source's <c>/etc/dumpdates</c> of the level-0 run; restore(8) <c>-r</c> reads the
/// <c>restoresymtable</c> the level-0 restore left), then removes <c>restoresymtable</c>: it was the last pass.</item>
/// </list>
/// Without a cutover in the plan it is a journaled no-op.
/// </summary>
/// <remarks>
/// Recovery (probe first): a partition with its completion marker (<c>&lt;stateDir&gt;/jails/&lt;jail&gt;/cutover/&lt;part&gt;.done</c>) is
/// never redone; a job that exists is re-attached. An interrupted or failed level-1 restore leaves a half-applied tree
/// on which the delta cannot be applied again (restore writes the new symbol table only at its end, so renames and
/// removals would be replayed against a tree that already has them). So once a level-1 job of a partition has started
/// (its <c>.started</c> marker, written by the job itself), or when <c>restoresymtable</c> is missing, a new attempt
/// transfers that partition in full (level 0) instead: its directory is emptied, sparing the partitions mounted below
/// it (<see cref="Transfer.WipeSparingNested"/>), and restored again while the services are stopped, which gives the
/// same final tree. Stopping a service again is harmless, so the stop phase simply runs again after a crash.
/// </remarks>
public sealed class Cutover(ActivityServices services) : Activity(services)
{
    private const string ServicesKey = "cutover.services";

    /// <summary>The services a cutover stops: rc.conf name and the script's path on the source.</summary>
    /// <param name="Services">Service and script, in rc.conf order.</param>
    internal sealed record CutoverScope(IReadOnlyList<(string Service, string Script)> Services);

    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var doneMarker = run.JailStateDir + "/cutover.done";
        switch (run.State.Phase)
        {
            case "":
                if (!run.Server.Cutover)
                {
                    await run.JournalAsync(JournalEntryKind.Info, $"not requested: the plan asks for no cutover of {run.Server.Name} (cutover: false); the level-0 transfer was the only pass").ConfigureAwait(false);
                    return ExecutionResult.Next();
                }

                if (await run.ExistsAsync(doneMarker).ConfigureAwait(false))
                {
                    await run.JournalAsync(JournalEntryKind.Info, "cutover already done").ConfigureAwait(false);
                    return ExecutionResult.Next();
                }

                var scope = await ScopeAsync(run).ConfigureAwait(false);
                run.State.Values[ServicesKey] = string.Join('\n', scope.Services.Select(s => s.Service + " " + s.Script));
                run.State.Phase = "stop";
                return run.Checkpoint();
            case "stop":
                await StopServicesAsync(run).ConfigureAwait(false);
                run.State.Phase = "delta";
                run.State.Index = 0;
                run.State.Attempt = 0;
                return run.Checkpoint();
            case "delta":
                return await DeltaAsync(run, doneMarker).ConfigureAwait(false);
            default:
                throw new InvalidOperationException($"Cutover: unknown phase '{run.State.Phase}' in the checkpoint.");
        }
    }

    /// <summary>
    /// The services to stop, read from the level-0 copy in the jail root, in the order they are stopped (the reverse of
    /// their start order): those enabled in <c>etc/rc.conf</c> (<see cref="JailServices.Enabled"/>) with an executable
    /// script among <see cref="JailServices.ScriptCandidates"/>, and on 4.x every executable <c>usr/local/etc/rc.d/*.sh</c>
    /// (4.x's <c>local_startup</c> runs each of them at boot, with or without an <c>_enable</c> line; rc(8) of 4.x
    /// starts them in lexical order). <c>sshd</c> is never stopped: the delta's dump runs over it.
    /// </summary>
    internal static async Task<CutoverScope> ScopeAsync(ActivityRun run)
    {
        await run.RequireNoSymlinksAsync("etc/rc.conf", "etc/rc.d", "usr/local/etc/rc.d").ConfigureAwait(false);
        var host = await run.JailHostAsync().ConfigureAwait(false);
        var rcConf = await host.ReadFileAsync(run.JailRoot.Combine("etc/rc.conf"), run.CancellationToken).ConfigureAwait(false) ?? string.Empty;
        var found = new List<(string Service, string Script)>();
        var enabled = JailServices.Enabled(rcConf).Where(s => s != KeptRunning).ToList();
        var candidates = enabled.SelectMany(s => JailServices.ScriptCandidates(run.JailRoot, s).Select(c => (Service: s, Path: c))).ToList();
        var legacy = FreeBsdRelease.Parse(run.Server.Release ?? "4.0-RELEASE").Major < 5;
        var localDir = run.JailRoot.Combine("usr/local/etc/rc.d");
        if (candidates.Count > 0 || legacy)
        {
            // find prints the executable regular files among them (and complains about the missing ones: exit 1, ignored).
            var paths = candidates.Select(c => c.Path).ToList();
            if (legacy)
            {
                paths.Add(localDir);
            }

            var result = await run.RunAsync(ShellCommand.Of("find", [.. paths, "-maxdepth", legacy ? "1" : "0", "-type", "f", "-perm", "-u+x"])).ConfigureAwait(false);
            var present = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
            foreach (var service in enabled)
            {
                var script = candidates.FirstOrDefault(c => c.Service == service && present.Contains(c.Path)).Path;
                if (script is not null)
                {
                    found.Add((service, script));
                }
            }

            if (legacy)
            {
                foreach (var script in present.Where(p => p.StartsWith(localDir + "/", StringComparison.Ordinal) && p.EndsWith(".sh", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
                {
                    var service = Path.GetFileName(script)[..^3];
                    if (service != KeptRunning && !found.Any(f => f.Script == script))
                    {
                        found.Add((service, script));
                    }
                }
            }
        }

        // Stopped in the reverse of the start order: the local packages (started last) first.
        found.Reverse();
        return new CutoverScope([.. found.Select(f => (f.Service, RcScripts.SourcePath(run.JailRoot, f.Script)))]);
    }

    /// <summary>The service a cutover never stops: the source's SSH daemon, which the delta's dump runs over.</summary>
    public const string KeptRunning = "sshd";

    /// <summary>What the cutover's approval asks for: "stop &lt;services&gt; on &lt;server&gt; and apply the level-1 delta of &lt;partitions&gt;".</summary>
    internal static string Subject(ActivityRun run, CutoverScope scope)
    {
        var services = scope.Services.Count == 0 ? "no services (none enabled with an rc script)" : string.Join(", ", scope.Services.Select(s => s.Service));
        return $"stop {services} on {run.Server.Name} and apply the level-1 delta of {string.Join(", ", run.Server.Partitions.Select(p => p.MountPoint))}";
    }

    private static IEnumerable<(string Service, string Script)> StoppedServices(ActivityRun run) =>
        run.State.Values.GetValueOrDefault(ServicesKey, string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', 2)).Select(p => (p[0], p[1]));

    private static async Task StopServicesAsync(ActivityRun run)
    {
        var knownHosts = await KnownHostsFile.EnsureAsync(run).ConfigureAwait(false);
        var stopped = new List<string>();
        foreach (var (service, script) in StoppedServices(run))
        {
            var stop = RcScripts.Stop(script);
            var ssh = OpenSsh.Command(run.Server.Ssh, run.JailHostSpec.TransferKeyFile, knownHosts, stop);
            var result = await run.RunAsync(ssh.MergeStdErr()).ConfigureAwait(false);
            var output = result.StdOut.Trim();
            if (!result.Succeeded)
            {
                throw run.Fail($"stopping {service} on {run.Server.Name} ({stop.Text}) failed with exit {result.ExitStatus}{(output.Length > 0 ? ": " + output : string.Empty)}; {(stopped.Count > 0 ? $"already stopped: {string.Join(", ", stopped)}; " : string.Empty)}the next attempt stops them again", retryable: true);
            }

            stopped.Add(service);
            await run.JournalAsync(JournalEntryKind.Info, $"stopped {service} on {run.Server.Name}: {stop.Text}{(output.Length > 0 ? $" ({output})" : string.Empty)}; it stays stopped (the jail takes over); if the consolidation is abandoned, start it again on the source: sh {script} start").ConfigureAwait(false);
        }

        if (stopped.Count == 0)
        {
            await run.JournalAsync(JournalEntryKind.Info, $"no services to stop on {run.Server.Name} (none enabled in rc.conf with an rc script)").ConfigureAwait(false);
        }
    }

    private static async Task<ExecutionResult> DeltaAsync(ActivityRun run, string doneMarker)
    {
        var partitions = run.Server.Partitions;
        var knownHosts = KnownHostsFile.PathOf(run);
        var snapshot = (bool?)run.Inputs["snapshot"] ?? true;
        var release = FreeBsdRelease.Parse(run.Server.Release ?? "4.0-RELEASE");
        while (run.State.Index < partitions.Count)
        {
            var index = run.State.Index;
            var partition = partitions[index];
            var target = Transfer.TargetDirectory(run.JailRoot, partition.MountPoint);
            var markers = $"{run.JailStateDir}/cutover/{TransferPartitions.MarkerName(partition.MountPoint)}";
            var modeKey = $"cutover.mode.p{index}.a{run.State.Attempt}";
            if (!run.State.Values.TryGetValue(modeKey, out var mode))
            {
                if (await run.ExistsAsync(markers + ".done").ConfigureAwait(false))
                {
                    await run.JournalAsync(JournalEntryKind.Info, $"partition {partition.MountPoint}: delta already applied; not redone").ConfigureAwait(false);
                    run.State.Index++;
                    run.State.Attempt = 0;
                    continue;
                }

                var started = await run.ExistsAsync(markers + ".started").ConfigureAwait(false);
                var symbolTable = await run.ExistsAsync(target + "/" + Restore.SymbolTableFile).ConfigureAwait(false);
                mode = !started && symbolTable ? DeltaMode : FullMode;
                if (mode == FullMode)
                {
                    await run.JournalAsync(JournalEntryKind.Warning, $"partition {partition.MountPoint}: {(started ? "an earlier level-1 restore was interrupted or failed and may be half-applied" : $"{target}/{Restore.SymbolTableFile} is missing")}; transferring it in full (level 0) while the services are stopped").ConfigureAwait(false);
                }

                await KnownHostsFile.EnsureAsync(run).ConfigureAwait(false);
                run.State.Values[modeKey] = mode;
                return run.Checkpoint();
            }

            var jobId = $"{run.InstanceId}-{run.StepId}-{mode}{index}-a{run.State.Attempt}";
            var jobDir = $"{run.JailHostSpec.JobsDir}/{jobId}";
            var level = mode == DeltaMode ? 1 : 0;
            var pipeline = Transfer.Pipeline(run.Server.Ssh, release, partition.MountPoint, run.JailHostSpec.TransferKeyFile, knownHosts, run.JailRoot,
                jobDir + "/dump.status", jobDir + "/restore.status", level, snapshot, jobDir + "/tmp");
            var job = Job(run.JailRoot, partition.MountPoint, partitions.Select(p => p.MountPoint), markers + ".started", mode, pipeline);
            var exit = await run.RunJobAsync(jobId, job, lines => TransferPartitions.JournalProgressAsync(run, partition.MountPoint, lines)).ConfigureAwait(false);
            if (exit is null)
            {
                return run.Sleep();
            }

            var verdict = await TransferPartitions.JudgeAsync(run, jobId, jobDir, snapshot && Dump.UsesSnapshot(release)).ConfigureAwait(false);
            if (exit != 0 || !verdict.Complete)
            {
                run.State.Attempt++;
                run.State.JobId = null;
                throw run.Fail($"partition {partition.MountPoint} of {run.Server.Name}: level-{level} {(level == 1 ? "delta" : "transfer")} failed ({string.Join("; ", verdict.Problems.DefaultIfEmpty($"job exit {exit}"))}); the next attempt transfers the partition in full (level 0) while the services stay stopped", retryable: true);
            }

            if (!verdict.SnapshotConsistent)
            {
                await run.JournalAsync(JournalEntryKind.Info, $"partition {partition.MountPoint}: dumped without a snapshot; consistent because the source's services are stopped").ConfigureAwait(false);
            }

            // The last pass: restoresymtable must not stay in the jail.
            await run.RunCheckedAsync(ShellCommand.Of("rm", "-f", target + "/" + Restore.SymbolTableFile)
                .And(ShellCommand.Of("touch", markers + ".done"))).ConfigureAwait(false);
            await run.JournalAsync(JournalEntryKind.Info, level == 1
                ? $"partition {partition.MountPoint}: level-1 delta applied; {Restore.SymbolTableFile} removed"
                : $"partition {partition.MountPoint}: transferred in full (level 0) with the services stopped; {Restore.SymbolTableFile} removed").ConfigureAwait(false);
            run.State.Index++;
            run.State.Attempt = 0;
            run.State.JobId = null;
            return run.Checkpoint();
        }

        await run.RunCheckedAsync(ShellCommand.Of("touch", doneMarker)).ConfigureAwait(false);
        var stopped = StoppedServices(run).Select(s => s.Service).ToList();
        await run.JournalAsync(JournalEntryKind.Info, $"cutover of {run.Server.Name} done: {(stopped.Count > 0 ? string.Join(", ", stopped) + " stopped on the source; " : string.Empty)}the jail has the state of the stopped source").ConfigureAwait(false);
        return ExecutionResult.Next();
    }

    /// <summary>
    /// The host job of one partition: for a delta, first the <c>.started</c> marker (from then on the tree may be
    /// half-applied), then <c>dump -1 | restore -r</c>; for a full pass the directory is emptied (sparing nested partitions) first.
    /// </summary>
    internal static ShellCommand Job(JailRoot root, string mountPoint, IEnumerable<string> allMountPoints, string startedMarker, string mode, ShellCommand pipeline)
    {
        var start = ShellCommand.Of("mkdir", "-p", startedMarker[..startedMarker.LastIndexOf('/')])
            .And(ShellCommand.Of("touch", startedMarker))
            .And(root.RefuseSymlinks(mountPoint));
        return mode == DeltaMode
            ? start.And(pipeline)
            : start.And(Transfer.WipeSparingNested(root, mountPoint, allMountPoints)).And(pipeline);
    }

    internal const string DeltaMode = "delta";

    internal const string FullMode = "full";
}
