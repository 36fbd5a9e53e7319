using System.Globalization;
using System.Text;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Hosts;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Checks, before a consolidation touches anything, that it can succeed; every check runs and every failing one is
/// named in one incident (an operator fixes them all at once, then resumes):
/// <list type="bullet">
/// <item><b>source</b>: the jail host reaches the source server with the transfer's own ssh(1) command line (its
/// key, the known_hosts of the pinned keys), running <c>uname -r</c>; the release must match the plan's.</item>
/// <item><b>space</b>: <c>df -k</c> on the jail host for the jails directory (or its nearest existing ancestor) shows
/// at least the partitions' used kilobytes (<c>df -k &lt;mount points&gt;</c> on the source, over the same ssh) plus
/// <c>spaceMarginPercent</c> (default 10).</item>
/// <item><b>jail root</b>: absent, empty, or owned by this instance (the marker
/// <c>&lt;stateDir&gt;/jails/&lt;name&gt;/owner</c>); a non-empty root owned by another instance or by none is refused.</item>
/// <item><b>jail IP</b>: not configured on the jail host (<c>ifconfig -a</c>) and not held by a running jail
/// (<c>jls</c>).</item>
/// <item><b>src tree</b>: <c>&lt;srcDir&gt;/Makefile</c> and <c>sys/conf/newvers.sh</c> exist.</item>
/// <item><b>securelevel</b>: <c>sysctl -n kern.securelevel</c> is -1 or 0 (installworld needs it).</item>
/// <item><b>world vs kernel</b>: the src tree's release is not newer than the running kernel (<c>uname -r</c>) unless
/// <c>allowNewerWorld</c> is set.</item>
/// </list>
/// Every check, passed or failed, is a journal line. Preflight changes nothing on the hosts but JailWorkflows' own
/// state: the transfer's known_hosts (needed to run its ssh command line; the transfer writes the same file) and,
/// when every check passed, the ownership marker holding this instance's id. Both writes are skipped when the file
/// already holds the content, so a rerun (recovery: rerun) changes nothing.
/// </summary>
public sealed class Preflight(ActivityServices services) : Activity(services)
{
    /// <summary>The ownership marker of a jail root: <c>&lt;stateDir&gt;/jails/&lt;name&gt;/owner</c>, holding the instance id.</summary>
    /// <param name="run">The run.</param>
    /// <returns>The path on the jail host.</returns>
    public static string OwnerMarker(ActivityRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return run.JailStateDir + "/owner";
    }

    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var margin = (int?)run.Inputs["spaceMarginPercent"] ?? 10;
        var allowNewerWorld = (bool?)run.Inputs["allowNewerWorld"] ?? false;
        var host = await run.JailHostAsync().ConfigureAwait(false);
        var knownHosts = await KnownHostsFile.EnsureAsync(run).ConfigureAwait(false);

        var checks = new List<CheckResult>();
        var source = await CheckAsync("source reachable", () => SourceAsync(run, knownHosts)).ConfigureAwait(false);
        checks.Add(source);
        checks.Add(await CheckAsync("free space", () => SpaceAsync(run, source.Passed ? knownHosts : null, margin)).ConfigureAwait(false));
        checks.Add(await CheckAsync("jail root", () => JailRootAsync(run, host)).ConfigureAwait(false));
        checks.Add(await CheckAsync("jail IP", () => JailIpAsync(run)).ConfigureAwait(false));
        var srcTree = await CheckAsync("src tree", () => SrcTreeAsync(run)).ConfigureAwait(false);
        checks.Add(srcTree);
        checks.Add(await CheckAsync("securelevel", () => SecurelevelAsync(run)).ConfigureAwait(false));
        checks.Add(await CheckAsync("world vs kernel", () => WorldAsync(run, srcTree.Passed, allowNewerWorld)).ConfigureAwait(false));

        foreach (var check in checks)
        {
            await run.JournalAsync(
                check.Passed ? JournalEntryKind.Info : JournalEntryKind.Error,
                $"preflight {check.Name}: {(check.Passed ? "passed" : "FAILED")}: {check.Detail}").ConfigureAwait(false);
        }

        var failed = checks.Where(c => !c.Passed).ToList();
        if (failed.Count > 0)
        {
            var list = string.Join("; ", failed.Select((c, i) => $"({i + 1}) {c.Name}: {c.Detail}"));
            throw run.Fail($"preflight refused the consolidation of {run.Server.Name} into {run.JailRoot}: {failed.Count} of {checks.Count} checks failed: {list}. Nothing was changed; fix them and resume (the checks run again).");
        }

        var marker = OwnerMarker(run);
        var content = run.InstanceId + "\n";
        if (await host.ReadFileAsync(marker, run.CancellationToken).ConfigureAwait(false) != content)
        {
            await run.RunCheckedAsync(ShellCommand.Of("mkdir", "-p", run.JailStateDir)).ConfigureAwait(false);
            await host.WriteFileAsync(marker, Encoding.UTF8.GetBytes(content), "0644", run.CancellationToken).ConfigureAwait(false);
            await run.JournalAsync(JournalEntryKind.Info, $"jail root {run.JailRoot} is owned by this instance ({marker})").ConfigureAwait(false);
        }

        return ExecutionResult.Next();
    }

    private static async Task<CheckResult> CheckAsync(string name, Func<Task<CheckResult>> check)
    {
        try
        {
            return (await check().ConfigureAwait(false)) with { Name = name };
        }
        catch (Exception ex) when (ex is HostCommandException or FormatException or ArgumentException or InvalidOperationException)
        {
            return new CheckResult(name, false, ex.Message);
        }
    }

    private static ShellCommand OverTransferSsh(ActivityRun run, string knownHosts, ShellCommand remote) =>
        OpenSsh.Command(run.Server.Ssh, run.JailHostSpec.TransferKeyFile, knownHosts, remote);

    private static async Task<CheckResult> SourceAsync(ActivityRun run, string knownHosts)
    {
        var ssh = run.Server.Ssh;
        var target = $"{ssh.User}@{ssh.Address}:{ssh.Port.ToString(CultureInfo.InvariantCulture)}";
        var result = await run.RunAsync(OverTransferSsh(run, knownHosts, ShellCommand.Of("uname", "-r"))).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return new CheckResult(string.Empty, false, $"the jail host's ssh to {target} with {run.JailHostSpec.TransferKeyFile} and the pinned host key failed (exit {result.ExitStatus}): {OneLine(result.StdErr)}");
        }

        var text = result.StdOut.Trim();
        if (!FreeBsdRelease.TryParse(text, out var release))
        {
            return new CheckResult(string.Empty, false, $"{target} answered uname -r with '{OneLine(text)}', not a FreeBSD release");
        }

        if (run.Server.Release is { } planned && FreeBsdRelease.TryParse(planned, out var plan) && (plan.Major != release.Major || plan.Minor != release.Minor))
        {
            return new CheckResult(string.Empty, false, $"{target} runs {release}, the plan says {plan}: dump's flags depend on the release; correct the plan");
        }

        return new CheckResult(string.Empty, true, $"the jail host reaches {target} with the transfer's ssh command line; it runs {release}");
    }

    private static async Task<IReadOnlyList<DfEntry>> SourceDfAsync(ActivityRun run, string knownHosts)
    {
        var mounts = run.Server.Partitions.Select(p => p.MountPoint).ToList();
        var output = await run.RunCheckedAsync(OverTransferSsh(run, knownHosts, Df.Command(mounts))).ConfigureAwait(false);
        return Df.Parse(output);
    }

    private static async Task<CheckResult> SpaceAsync(ActivityRun run, string? knownHosts, int margin)
    {
        var jailsDir = JailRoot.ValidateDirectory(run.JailHostSpec.JailsDir, "jailHost.jailsDir");
        var local = Df.Parse(await run.RunCheckedAsync(Df.KilobytesOfNearestExisting(jailsDir)).ConfigureAwait(false));
        if (local.Count == 0)
        {
            return new CheckResult(string.Empty, false, $"df -k printed no file system for {jailsDir}");
        }

        var target = local[0];
        var available = $"{target.AvailableKiB.ToString(CultureInfo.InvariantCulture)} KiB available on {target.FileSystem} ({target.MountedOn}) holding {jailsDir}";
        if (knownHosts is null)
        {
            return new CheckResult(string.Empty, false, $"{available}; the partitions' sizes are unknown because the source was not reached");
        }

        var sourceDf = await SourceDfAsync(run, knownHosts).ConfigureAwait(false);

        var used = new List<long>();
        foreach (var partition in run.Server.Partitions)
        {
            var row = sourceDf.FirstOrDefault(r => r.MountedOn == partition.MountPoint)
                ?? throw new FormatException($"df -k on {run.Server.Name} reported no file system mounted on {partition.MountPoint} (is it a partition?)");
            used.Add(row.UsedKiB);
        }

        var required = PreflightRules.RequiredKilobytes(used, margin);
        var detail = $"needs {required.ToString(CultureInfo.InvariantCulture)} KiB ({used.Sum().ToString(CultureInfo.InvariantCulture)} KiB used on {string.Join(", ", run.Server.Partitions.Select(p => p.MountPoint))} of {run.Server.Name} + {margin.ToString(CultureInfo.InvariantCulture)}%), {available}";
        return new CheckResult(string.Empty, target.AvailableKiB >= required, detail);
    }

    private static async Task<CheckResult> JailRootAsync(ActivityRun run, Host host)
    {
        var root = run.JailRoot.Path;
        var exists = await run.ExistsAsync(root).ConfigureAwait(false);
        var isDirectory = exists && (await run.RunAsync(ShellCommand.Of("test", "-d", root)).ConfigureAwait(false)).Succeeded;
        IReadOnlyList<string> entries = [];
        if (isDirectory)
        {
            entries = (await run.RunCheckedAsync(ShellCommand.Of("ls", "-A", root)).ConfigureAwait(false))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        var owner = await host.ReadFileAsync(OwnerMarker(run), run.CancellationToken).ConfigureAwait(false);
        var verdict = PreflightRules.JudgeJailRoot(exists, isDirectory, entries, owner, run.InstanceId);
        return new CheckResult(string.Empty, verdict.Acceptable, $"{root}: {verdict.Reason}");
    }

    private static async Task<CheckResult> JailIpAsync(ActivityRun run)
    {
        var ip = run.Server.Jail.Ip;
        var configured = Ifconfig.ParseIPv4(await run.RunCheckedAsync(Ifconfig.Command()).ConfigureAwait(false));
        var running = Jls.Parse(await run.RunCheckedAsync(Jls.All()).ConfigureAwait(false));
        var holders = PreflightRules.IpHolders(ip, configured, running, run.JailRoot);
        return holders.Count == 0
            ? new CheckResult(string.Empty, true, $"{ip} is configured nowhere on {run.JailHostSpec.Name} and held by no running jail")
            : new CheckResult(string.Empty, false, $"{ip} is in use on {run.JailHostSpec.Name}: {string.Join("; ", holders)}");
    }

    private static async Task<CheckResult> SrcTreeAsync(ActivityRun run)
    {
        var src = JailRoot.ValidateDirectory(run.JailHostSpec.SrcDir, "jailHost.srcDir");
        var missing = new List<string>();
        foreach (var file in new[] { src + "/Makefile", src + "/sys/conf/newvers.sh" })
        {
            if (!(await run.RunAsync(ShellCommand.Of("test", "-f", file)).ConfigureAwait(false)).Succeeded)
            {
                missing.Add(file);
            }
        }

        return missing.Count == 0
            ? new CheckResult(string.Empty, true, $"{src} holds a source tree (Makefile, sys/conf/newvers.sh)")
            : new CheckResult(string.Empty, false, $"no source tree in {src}: missing {string.Join(", ", missing)}");
    }

    private static async Task<CheckResult> SecurelevelAsync(ActivityRun run)
    {
        var text = (await run.RunCheckedAsync(ShellCommand.Of("sysctl", "-n", "kern.securelevel")).ConfigureAwait(false)).Trim();
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var level))
        {
            return new CheckResult(string.Empty, false, $"sysctl -n kern.securelevel printed '{OneLine(text)}', not a number");
        }

        return PreflightRules.SecurelevelAllowsInstall(level)
            ? new CheckResult(string.Empty, true, $"kern.securelevel is {level} (installworld can run)")
            : new CheckResult(string.Empty, false, $"kern.securelevel is {level}: installworld needs -1 or 0 (lower it at boot: kern_securelevel in rc.conf, then reboot)");
    }

    private static async Task<CheckResult> WorldAsync(ActivityRun run, bool srcTreePresent, bool allowNewerWorld)
    {
        var kernelText = (await run.RunCheckedAsync(ShellCommand.Of("uname", "-r")).ConfigureAwait(false)).Trim();
        var kernel = FreeBsdRelease.Parse(kernelText);
        if (!srcTreePresent)
        {
            return new CheckResult(string.Empty, false, $"the running kernel is {kernel}; the world's release is unknown without a source tree");
        }

        var src = JailRoot.ValidateDirectory(run.JailHostSpec.SrcDir, "jailHost.srcDir");
        var world = Make.ParseNewvers(await run.RunCheckedAsync(Make.ReadNewvers(src)).ConfigureAwait(false));
        if (!PreflightRules.WorldIsNewerThanKernel(world, kernel))
        {
            return new CheckResult(string.Empty, true, $"world {world} (from {src}) is not newer than the running kernel {kernel}");
        }

        return allowNewerWorld
            ? new CheckResult(string.Empty, true, $"world {world} is newer than the running kernel {kernel}: allowed by allowNewerWorld")
            : new CheckResult(string.Empty, false, $"world {world} (from {src}) is newer than the running kernel {kernel}: its userland may need system calls this kernel lacks; upgrade the host's kernel first, or set allowNewerWorld");
    }

    private static string OneLine(string text)
    {
        var t = string.Join(" / ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return t.Length <= 300 ? t : t[..300] + "…";
    }

    private sealed record CheckResult(string Name, bool Passed, string Detail);
}
