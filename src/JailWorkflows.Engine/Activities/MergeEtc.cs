using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Merges the jail's <c>/etc</c> with the new world's unattended: <c>mergemaster -i -D &lt;jail root&gt; -m &lt;src&gt;
/// -t &lt;temproot&gt;</c> with stdin from /dev/null and PAGER=cat (mergemaster(8)). <c>etc/rc.d</c> is replaced
/// wholesale first. Files mergemaster leaves for consideration are listed in the journal.
/// </summary>
public sealed class MergeEtc(ActivityServices services) : Activity(services)
{
    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var marker = run.JailStateDir + "/mergeetc.done";
        if (run.State.JobId is null && await run.ExistsAsync(marker).ConfigureAwait(false))
        {
            await run.JournalAsync(JournalEntryKind.Info, "/etc already merged").ConfigureAwait(false);
            return ExecutionResult.Next();
        }

        var src = JailRoot.ValidateDirectory(run.JailHostSpec.SrcDir, "jailHost.srcDir");
        var tempRoot = run.JailStateDir + "/temproot";
        var script = ShellCommand.Of("mkdir", "-p", run.JailStateDir)
            .And(ShellCommand.Of("rm", "-rf", tempRoot))
            .And(ShellCommand.Of("rm", "-rf", run.JailRoot.Combine("etc/rc.d")))
            .And(Mergemaster.Unattended(src, run.JailRoot, tempRoot));
        var jobId = $"{run.InstanceId}-{run.StepId}-a{run.State.Attempt}";
        var exit = await run.RunJobAsync(jobId, script).ConfigureAwait(false);
        if (exit is null)
        {
            return run.Sleep();
        }

        if (exit != 0)
        {
            run.State.Attempt++;
            throw run.Fail($"mergemaster for {run.JailRoot} failed (exit {exit}); see its output in the journal");
        }

        var output = await run.JobOutputAsync(jobId).ConfigureAwait(false);
        var report = Mergemaster.ParseOutput(output, tempRoot);
        foreach (var problem in report.Problems)
        {
            await run.JournalAsync(JournalEntryKind.Warning, $"mergemaster: {problem}").ConfigureAwait(false);
        }

        foreach (var file in report.Remaining)
        {
            await run.JournalAsync(JournalEntryKind.Warning, $"mergemaster left {file} for consideration (the jail keeps its old version; the new one is in {report.TempRoot})").ConfigureAwait(false);
        }

        await run.RunCheckedAsync(ShellCommand.Of("touch", marker)).ConfigureAwait(false);
        return ExecutionResult.Next();
    }
}
