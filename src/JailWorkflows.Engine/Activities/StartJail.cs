using System.Text;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Writes the jail's jail.conf(5) file (<c>&lt;jailConfDir&gt;/&lt;name&gt;.conf</c>) and starts it with
/// <c>jail -f &lt;conf&gt; -c &lt;name&gt;</c> (jail(8)). Success only when <c>jls -j &lt;name&gt;</c> lists it; a jail
/// that already runs is left alone. Refused (an incident listing them) while a file under the jail's etc holds
/// conflict markers.
/// </summary>
public sealed class StartJail(ActivityServices services) : Activity(services)
{
    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        await RefuseConflictMarkersAsync(run).ConfigureAwait(false);
        var jail = run.Server.Jail;
        var confDir = JailRoot.ValidateDirectory(run.JailHostSpec.JailConfDir, "jailHost.jailConfDir");
        var conf = JailConf.FilePath(confDir, run.JailRoot);
        var host = await run.JailHostAsync().ConfigureAwait(false);
        await run.RunCheckedAsync(ShellCommand.Of("mkdir", "-p", confDir)).ConfigureAwait(false);
        await host.WriteFileAsync(conf, Encoding.UTF8.GetBytes(JailConf.Render(jail, run.JailRoot)), "0644", run.CancellationToken).ConfigureAwait(false);
        if ((await run.RunAsync(Jls.ForJail(jail.Name)).ConfigureAwait(false)).Succeeded)
        {
            await run.JournalAsync(JournalEntryKind.Info, $"jail {jail.Name} is already running").ConfigureAwait(false);
            return ExecutionResult.Next();
        }

        var start = await run.RunAsync(Jail.Create(conf, jail.Name)).ConfigureAwait(false);
        var listed = await run.RunAsync(Jls.ForJail(jail.Name)).ConfigureAwait(false);
        if (!listed.Succeeded)
        {
            // jail(8) can print "cannot start jail" and still exit 0: jls is the judge.
            throw run.Fail($"jail {jail.Name} did not start (jail exit {start.ExitStatus}: {start.StdErr.Trim()}{start.StdOut.Trim()})");
        }

        await run.JournalAsync(JournalEntryKind.Info, $"jail {jail.Name} started: {listed.StdOut.Trim().Split('\n').Last().Trim()}").ConfigureAwait(false);
        return ExecutionResult.Next();
    }

    /// <summary>A file under the jail's etc with conflict markers (<c>&lt;&lt;&lt;&lt;&lt;&lt;&lt;</c>) blocks the start: an incident listing them.</summary>
    private static async Task RefuseConflictMarkersAsync(ActivityRun run)
    {
        var scan = await run.RunAsync(EtcReview.ConflictScan(run.JailRoot)).ConfigureAwait(false);
        if (scan.ExitStatus is not (0 or 1))
        {
            throw run.Fail($"scanning {run.JailRoot.Combine("etc")} for conflict markers failed (grep exit {scan.ExitStatus}: {scan.StdErr.Trim()})");
        }

        var files = EtcReview.ParseConflictScan(scan.StdOut, run.JailRoot);
        if (files.Count > 0)
        {
            throw run.Fail($"jail {run.Server.Jail.Name} not started: {files.Count} file(s) in its etc hold conflict markers (<<<<<<<): {string.Join(", ", files)}; resolve them, then resume");
        }
    }
}
