using System.Text;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Hosts;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Writes the jail's jail.conf(5) file (<c>&lt;jailConfDir&gt;/&lt;name&gt;.conf</c>) and starts the jail with
/// <c>service jail start &lt;name&gt;</c> (rc.d/jail). Success only when <c>jls -j &lt;name&gt;</c> lists it afterwards:
/// rc.d/jail prints <c>cannot start jail</c> (or <c>Cannot 'start' jail. Set jail_enable to YES</c>) and still exits 0.
/// A jail that already runs from this jail root is left alone (a no-op that succeeds); one of the same name running
/// from another path is an incident.
/// Refused (an incident listing them) while a file under the jail's etc holds conflict markers.
/// </summary>
/// <remarks>
/// rc.d/jail reads <c>/etc/jail.conf.d/&lt;name&gt;.conf</c> (FreeBSD 13 and later), <c>jail_&lt;name&gt;_conf</c> or
/// <c>/etc/jail.conf</c>; <c>service jail oneconfig &lt;name&gt;</c> tells which. When that is not the file written here
/// (the plan's <c>jailConfDir</c> is elsewhere), the jail is started with <c>jail -f &lt;file&gt; -c &lt;name&gt;</c> (what
/// rc.d/jail itself runs) and a warning says that rc.d/jail will not start it at boot.
/// </remarks>
public sealed class StartJail(ActivityServices services) : Activity(services)
{
    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        await RefuseConflictMarkersAsync(run).ConfigureAwait(false);
        var jail = run.Server.Jail;
        var conf = await JailConfFile.EnsureAsync(run).ConfigureAwait(false);
        if (await JailConfFile.RunningAsync(run).ConfigureAwait(false) is { } running)
        {
            await run.JournalAsync(JournalEntryKind.Info, $"jail {jail.Name} is already running (JID {running.Jid}); nothing done").ConfigureAwait(false);
            return ExecutionResult.Next();
        }

        CommandResult start;
        if (await JailConfFile.RcdJailReadsAsync(run, conf).ConfigureAwait(false))
        {
            start = await run.RunAsync(RcdJail.Start(jail.Name)).ConfigureAwait(false);
        }
        else
        {
            start = await run.RunAsync(Jail.Create(conf, jail.Name)).ConfigureAwait(false);
        }

        var listed = await JailConfFile.RunningAsync(run).ConfigureAwait(false);
        if (listed is null)
        {
            // rc.d/jail prints "cannot start jail" and still exits 0: jls is the judge.
            var output = string.Join(" / ", (start.StdOut + "\n" + start.StdErr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            throw run.Fail($"jail {jail.Name} did not start: jls -j {jail.Name} does not list it (exit {start.ExitStatus}: {output})", retryable: true);
        }

        await run.JournalAsync(JournalEntryKind.Info, $"jail {jail.Name} started: JID {listed.Jid}, {listed.Ip}, {listed.Path}").ConfigureAwait(false);
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

/// <summary>The jail's jail.conf(5) file and how rc.d/jail sees it; shared by StartJail and StopJail.</summary>
internal static class JailConfFile
{
    /// <summary>Writes <c>&lt;jailConfDir&gt;/&lt;name&gt;.conf</c> unless it holds exactly the jail's block already.</summary>
    /// <returns>Its path.</returns>
    public static async Task<string> EnsureAsync(Activity.ActivityRun run)
    {
        var confDir = JailRoot.ValidateDirectory(run.JailHostSpec.JailConfDir, "jailHost.jailConfDir");
        var conf = JailConf.FilePath(confDir, run.JailRoot);
        var content = JailConf.Render(run.Server.Jail, run.JailRoot);
        var host = await run.JailHostAsync().ConfigureAwait(false);
        if (await host.ReadFileAsync(conf, run.CancellationToken).ConfigureAwait(false) != content)
        {
            await run.RunCheckedAsync(ShellCommand.Of("mkdir", "-p", confDir)).ConfigureAwait(false);
            await host.WriteFileAsync(conf, Encoding.UTF8.GetBytes(content), "0644", run.CancellationToken).ConfigureAwait(false);
            await run.JournalAsync(JournalEntryKind.Info, $"wrote {conf}").ConfigureAwait(false);
        }

        return conf;
    }

    /// <summary>The jail's row in <c>jls -j &lt;name&gt;</c>, or null when it does not run.</summary>
    /// <exception cref="ActivityFailedException">A jail of that name runs from another path.</exception>
    public static async Task<JailListing?> RunningAsync(Activity.ActivityRun run)
    {
        var name = run.Server.Jail.Name;
        var listed = await run.RunAsync(Jls.ForJail(name)).ConfigureAwait(false);
        if (!listed.Succeeded)
        {
            if (Jls.ReportsNotFound(listed.StdErr))
            {
                return null;
            }

            throw new HostCommandException(run.JailHostSpec.Name, Jls.ForJail(name), listed);
        }

        var row = Jls.Parse(listed.StdOut).FirstOrDefault();
        if (row is null)
        {
            return null;
        }

        if (row.Path != run.JailRoot.Path)
        {
            throw run.Fail($"a jail named {name} runs from {row.Path}, not from {run.JailRoot}: another jail holds the name; stop or rename it");
        }

        return row;
    }

    /// <summary>
    /// Whether rc.d/jail takes the jail's configuration from <paramref name="conf"/> (<c>service jail oneconfig</c>).
    /// When it does not, a warning is journaled: the caller uses jail(8) with the file directly.
    /// </summary>
    public static async Task<bool> RcdJailReadsAsync(Activity.ActivityRun run, string conf)
    {
        var name = run.Server.Jail.Name;
        var probe = await run.RunAsync(RcdJail.Config(name)).ConfigureAwait(false);
        var used = RcdJail.ParseConfig(probe.StdOut, name);
        if (used == conf)
        {
            return true;
        }

        var why = used is null
            ? $"rc.d/jail has no configuration for {name} ({string.Join(" / ", (probe.StdOut + probe.StdErr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))})"
            : $"rc.d/jail reads {used} for {name}";
        await run.JournalAsync(
            JournalEntryKind.Warning,
            $"{why}, not {conf}: using jail -f {conf} directly; rc.d/jail will not start or stop this jail at boot until it finds that file (jailConfDir /etc/jail.conf.d, or jail_{name.Replace('-', '_')}_conf in rc.conf)").ConfigureAwait(false);
        return false;
    }
}
