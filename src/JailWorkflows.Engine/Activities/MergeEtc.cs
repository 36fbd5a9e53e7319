using System.Text;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Merges the jail's <c>/etc</c> with the new world's, the first conversion of FREEBSD.md ("Merging /etc"):
/// <list type="number">
/// <item><c>mergemaster -i -D &lt;jail root&gt; -m &lt;src&gt; -t &lt;temproot&gt;</c> unattended (stdin from /dev/null,
/// <c>PAGER=cat</c>, mergemaster(8)), with <c>etc/rc.d</c> replaced wholesale and <c>boot</c> dropped from the temproot
/// before comparing (a <c>.mergemasterrc</c> of the product's own sets <c>MM_PRE_COMPARE_SCRIPT</c>); a no-output
/// watchdog (input <c>watchdogSeconds</c>, default 600) kills a run that waits on a prompt and makes an incident;</item>
/// <item><c>etcupdate extract</c> (etcupdate(8)) so the jail has a baseline for later upgrades;</item>
/// <item>files that need a person (<see cref="EtcReview.NeedsPerson"/>, and any file with conflict markers) become an
/// <b>approval</b>: the instance waits for the event <c>approval</c> with key <c>&lt;instance&gt;:&lt;step&gt;</c>, which
/// <c>jailwf approve</c> publishes (<see cref="JailwfEngine.ApproveAsync"/>).</item>
/// </list>
/// </summary>
public sealed class MergeEtc(ActivityServices services) : Activity(services)
{
    /// <summary>The WorkflowCore event name an approval is published under.</summary>
    public const string ApprovalEvent = "approval";

    /// <summary>Key of <see cref="ActivityState.Values"/> listing the files an approval is asked for, one per line.</summary>
    public const string ApprovalFilesKey = "approval.files";

    private const string RemainingKey = "merge.remaining";
    /// <summary>Key of <see cref="ActivityState.Values"/> holding mergemaster's temproot (the offered versions of the files left for consideration).</summary>
    internal const string TempRootKey = "merge.temproot";

    /// <summary>The event key of an instance's approval at a step: <c>&lt;instance&gt;:&lt;step&gt;</c>.</summary>
    /// <param name="instanceId">The instance.</param>
    /// <param name="stepId">The step id in the definition.</param>
    /// <returns>The key.</returns>
    public static string ApprovalKey(string instanceId, string stepId) => instanceId + ":" + stepId;

    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var marker = run.JailStateDir + "/mergeetc.done";
        if (run.State.JobId is null && run.State.Phase.Length == 0 && await run.ExistsAsync(marker).ConfigureAwait(false))
        {
            await run.JournalAsync(JournalEntryKind.Info, "/etc already merged").ConfigureAwait(false);
            return ExecutionResult.Next();
        }

        var src = JailRoot.ValidateDirectory(run.JailHostSpec.SrcDir, "jailHost.srcDir");
        switch (run.State.Phase)
        {
            case "":
            case "merge":
                return await MergeAsync(run, src).ConfigureAwait(false);
            case "extract":
                return await ExtractAsync(run, src).ConfigureAwait(false);
            case "review":
                return await ReviewAsync(run, marker).ConfigureAwait(false);
            case "approval":
                if (!run.EventPublished)
                {
                    return run.WaitForEvent(ApprovalEvent, ApprovalKey(run.InstanceId, run.StepId));
                }

                await run.JournalAsync(JournalEntryKind.Info, $"approval received for {string.Join(", ", Files(run))}{(run.EventData is string reason && reason.Length > 0 ? $" (reason: {reason})" : string.Empty)}; the jail keeps its versions").ConfigureAwait(false);
                await run.RunCheckedAsync(ShellCommand.Of("touch", marker)).ConfigureAwait(false);
                return ExecutionResult.Next();
            default:
                throw new InvalidOperationException($"MergeEtc: unknown phase '{run.State.Phase}' in the checkpoint.");
        }
    }

    private static async Task<ExecutionResult> MergeAsync(ActivityRun run, string src)
    {
        var tempRoot = run.JailStateDir + "/temproot";
        var home = run.JailStateDir + "/mergemaster";
        var jobId = $"{run.InstanceId}-{run.StepId}-a{run.State.Attempt}";
        if (run.State.JobId is null)
        {
            // mergemaster reads $HOME/.mergemasterrc: ours only sets the pre-compare script that drops boot.
            var host = await run.JailHostAsync().ConfigureAwait(false);
            await run.RunCheckedAsync(ShellCommand.Of("mkdir", "-p", home)).ConfigureAwait(false);
            await host.WriteFileAsync(home + "/drop-boot.sh", Encoding.UTF8.GetBytes(MergemasterRc.DropBootScript), "0644", run.CancellationToken).ConfigureAwait(false);
            await host.WriteFileAsync(home + "/.mergemasterrc", Encoding.UTF8.GetBytes(MergemasterRc.Render(home + "/drop-boot.sh")), "0644", run.CancellationToken).ConfigureAwait(false);
            run.State.Phase = "merge";
        }

        await run.RequireNoSymlinksAsync("etc/rc.d", "var/db").ConfigureAwait(false);
        var script = ShellCommand.Of("mkdir", "-p", run.JailStateDir)
            .And(ShellCommand.Of("rm", "-rf", tempRoot))
            .And(ShellCommand.Of("rm", "-rf", run.JailRoot.Combine("etc/rc.d")))
            .And(Mergemaster.Unattended(src, run.JailRoot, tempRoot).WithEnvironment([new("HOME", home)]));
        var watchdog = TimeSpan.FromSeconds((int?)run.Inputs["watchdogSeconds"] ?? 600);
        var exit = await run.RunJobAsync(jobId, script, watchdog: watchdog).ConfigureAwait(false);
        if (exit is null)
        {
            return run.Sleep();
        }

        if (exit != 0)
        {
            run.State.Attempt++;
            throw run.Fail($"mergemaster for {run.JailRoot} failed (exit {exit}); see its output in the journal", retryable: true);
        }

        var output = await run.JobOutputAsync(jobId).ConfigureAwait(false);
        var report = Mergemaster.ParseOutput(output, tempRoot);
        if (!report.Completed)
        {
            run.State.Attempt++;
            throw run.Fail($"mergemaster for {run.JailRoot} exited 0 without '*** Comparison complete'; see its output in the journal; resume runs it again", retryable: true);
        }

        foreach (var problem in report.Problems)
        {
            await run.JournalAsync(JournalEntryKind.Warning, $"mergemaster: problem installing {problem}").ConfigureAwait(false);
        }

        foreach (var file in report.Remaining)
        {
            await run.JournalAsync(JournalEntryKind.Warning, $"mergemaster left {file} for consideration (the jail keeps its old version; the new one is in {report.TempRoot})").ConfigureAwait(false);
        }

        run.State.Values[RemainingKey] = string.Join('\n', report.Remaining);
        run.State.Values[TempRootKey] = report.TempRoot;
        run.State.Phase = "extract";
        return run.Checkpoint();
    }

    private static async Task<ExecutionResult> ExtractAsync(ActivityRun run, string src)
    {
        var exit = await run.RunJobAsync($"{run.InstanceId}-{run.StepId}-extract-a{run.State.Attempt}", Etcupdate.Extract(src, run.JailRoot)).ConfigureAwait(false);
        if (exit is null)
        {
            return run.Sleep();
        }

        if (exit != 0)
        {
            run.State.Attempt++;
            throw run.Fail($"etcupdate extract for {run.JailRoot} failed (exit {exit}); resume runs it again", retryable: true);
        }

        await run.JournalAsync(JournalEntryKind.Info, $"etcupdate baseline stored in {run.JailRoot.Combine("var/db/etcupdate")} (later upgrades can use etcupdate)").ConfigureAwait(false);
        run.State.Phase = "review";
        return run.Checkpoint();
    }

    private static async Task<ExecutionResult> ReviewAsync(ActivityRun run, string marker)
    {
        var remaining = run.State.Values.GetValueOrDefault(RemainingKey, string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var scan = await run.RunAsync(EtcReview.ConflictScan(run.JailRoot)).ConfigureAwait(false);
        if (scan.ExitStatus is not (0 or 1))
        {
            throw run.Fail($"scanning {run.JailRoot.Combine("etc")} for conflict markers failed (grep exit {scan.ExitStatus}: {scan.StdErr.Trim()})");
        }

        var conflicted = EtcReview.ParseConflictScan(scan.StdOut, run.JailRoot);
        var files = remaining.Where(EtcReview.NeedsPerson).Concat(conflicted.Select(f => f + " (conflict markers)")).Distinct(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            await run.RunCheckedAsync(ShellCommand.Of("touch", marker)).ConfigureAwait(false);
            return ExecutionResult.Next();
        }

        run.State.Values[ApprovalFilesKey] = string.Join('\n', files);
        run.State.Phase = "approval";
        var tempRoot = run.State.Values.GetValueOrDefault(TempRootKey, run.JailStateDir + "/temproot");
        await run.JournalAsync(
            JournalEntryKind.ApprovalRequested,
            $"waits for approval: {string.Join(", ", files)} need a person (the jail keeps its versions; the new ones are in {tempRoot}{(conflicted.Count > 0 ? "; a file with conflict markers blocks the start of the jail until it is resolved" : string.Empty)}); continue with: jailwf approve {run.InstanceId} [--reason ...]").ConfigureAwait(false);
        return run.WaitForEvent(ApprovalEvent, ApprovalKey(run.InstanceId, run.StepId));
    }

    private static IEnumerable<string> Files(ActivityRun run) =>
        run.State.Values.GetValueOrDefault(ApprovalFilesKey, string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
