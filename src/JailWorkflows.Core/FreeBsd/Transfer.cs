using JailWorkflows.Plans;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// The transfer of one partition (DESIGN.md step 1), run as a host job on the jail host:
/// <c>cd &lt;jail root&gt;/&lt;mount point&gt; &amp;&amp; { ssh … 'dump -0ua[L] -f - &lt;mount point&gt;'; echo $? &gt; dumpstatus; }
/// | { restore -rf -; echo $? &gt; restorestatus; }</c>. Bulk data never passes through the engine.
/// </summary>
public static class Transfer
{
    /// <summary>The directory a partition is restored into: <c>&lt;jail root&gt;/&lt;mount point&gt;</c> (the jail root itself for <c>/</c>).</summary>
    /// <param name="root">The jail root.</param>
    /// <param name="mountPoint">The partition's mount point on the source, e.g. <c>/usr</c>.</param>
    /// <returns>The absolute target directory.</returns>
    /// <exception cref="ArgumentException">The mount point is not a safe path (see <see cref="JailRoot.Combine"/>).</exception>
    public static string TargetDirectory(JailRoot root, string mountPoint)
    {
        ArgumentNullException.ThrowIfNull(root);
        return root.Combine(mountPoint);
    }

    /// <summary>
    /// The transfer pipeline for one partition. The target directory must exist (and be empty for a level-0
    /// dump; restore(8) rebuilds into the current directory). Each side writes its exit status to its status
    /// file when it ends (sh(1) has no PIPESTATUS); both must read 0, and restore's standard error must hold no
    /// <see cref="Restore.FailurePhrases"/>, for the partition to count as transferred.
    /// </summary>
    /// <param name="source">The source server's SSH endpoint (address, port, user, legacySsh).</param>
    /// <param name="sourceRelease">The source's release: decides whether <c>-L</c> exists.</param>
    /// <param name="mountPoint">The partition's mount point, given to dump(8) and used under the jail root.</param>
    /// <param name="transferKeyFile">The jail host's private key for the source (<see cref="JailHostSpec.TransferKeyFile"/>).</param>
    /// <param name="knownHostsFile">Absolute path of the known_hosts file on the jail host with the source's pinned key.</param>
    /// <param name="root">The jail root.</param>
    /// <param name="dumpStatusFile">Absolute path receiving ssh/dump's exit status.</param>
    /// <param name="restoreStatusFile">Absolute path receiving restore's exit status.</param>
    /// <param name="level">Dump level 0..9; default 0 (full).</param>
    /// <param name="snapshot">Ask dump for a snapshot (<c>-L</c>, 5.0+ only); default true.</param>
    /// <param name="tempDirectory">An absolute directory of this transfer's own for restore's temporary files (TMPDIR), created first; null keeps the environment's.</param>
    /// <returns>The command the host job runs on the jail host.</returns>
    /// <exception cref="ArgumentException">An unsafe or relative path, a bad endpoint, a bad level.</exception>
    public static ShellCommand Pipeline(
        SshEndpoint source,
        FreeBsdRelease sourceRelease,
        string mountPoint,
        string transferKeyFile,
        string knownHostsFile,
        JailRoot root,
        string dumpStatusFile,
        string restoreStatusFile,
        int level = 0,
        bool snapshot = true,
        string? tempDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(sourceRelease);
        ArgumentNullException.ThrowIfNull(mountPoint);
        ArgumentNullException.ThrowIfNull(dumpStatusFile);
        ArgumentNullException.ThrowIfNull(restoreStatusFile);
        if (!dumpStatusFile.StartsWith('/') || !restoreStatusFile.StartsWith('/'))
        {
            // Relative status files would land inside the jail, since the pipeline runs after cd.
            throw new ArgumentException("Status files must be absolute paths.", nameof(dumpStatusFile));
        }

        var target = TargetDirectory(root, mountPoint);
        var dump = Dump.Command(sourceRelease, level, mountPoint, snapshot);
        var ssh = OpenSsh.Command(source, transferKeyFile, knownHostsFile, dump);
        var restore = Restore.Command();
        var start = ShellCommand.Of("cd", target);
        if (tempDirectory is not null)
        {
            // restore(8) names its temporary files after the dump's date (rstdir<date>, rstmode<date>): two
            // transfers started in the same second collide in a shared TMPDIR, and a killed one leaves them behind.
            if (!tempDirectory.StartsWith('/'))
            {
                throw new ArgumentException("The temporary directory must be an absolute path.", nameof(tempDirectory));
            }

            restore = restore.WithEnvironment([new("TMPDIR", tempDirectory)]);
            start = ShellCommand.Of("mkdir", "-p", tempDirectory).And(start);
        }

        // Each side's status is recorded, so the pipeline's own is that of the last echo (0): the job ends with both
        // statuses checked, so a broken transfer's job exits non-zero too (and its journal says so).
        return start.And(ssh.RecordExitStatus(dumpStatusFile).Pipe(restore.RecordExitStatus(restoreStatusFile)))
            .And(ShellCommand.Of("grep", "-qx", "0", dumpStatusFile))
            .And(ShellCommand.Of("grep", "-qx", "0", restoreStatusFile));
    }

    /// <summary>
    /// Empties a partition's target directory for a new full (level-0) restore while sparing the partitions mounted
    /// below it: <c>mkdir -p &lt;target&gt; &amp;&amp; find &lt;target&gt; -mindepth 1 -maxdepth 1 ! -name &lt;kept&gt;… -exec chflags -R
    /// &lt;flags&gt; {} + &amp;&amp; find … -exec rm -rf {} +</c>. Kept are the first path components (below the partition) of
    /// every other partition of <paramref name="allMountPoints"/> mounted below <paramref name="mountPoint"/> (for <c>/</c>
    /// with <c>/usr</c> and <c>/var</c>: <c>usr</c> and <c>var</c>), with their contents: those are other partitions' trees.
    /// A kept directory that also held files of this partition keeps them (restore then overwrites those it has).
    /// </summary>
    /// <param name="root">The jail root.</param>
    /// <param name="mountPoint">The partition emptied.</param>
    /// <param name="allMountPoints">Every partition of the server (mount points).</param>
    /// <returns>The command, for the jail host.</returns>
    /// <exception cref="ArgumentException">A mount point is not a safe path.</exception>
    public static ShellCommand WipeSparingNested(JailRoot root, string mountPoint, IEnumerable<string> allMountPoints)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(mountPoint);
        ArgumentNullException.ThrowIfNull(allMountPoints);
        var target = TargetDirectory(root, mountPoint);
        var prefix = mountPoint == "/" ? "/" : mountPoint.TrimEnd('/') + "/";
        var kept = allMountPoints
            .Where(m => m != mountPoint && m.StartsWith(prefix, StringComparison.Ordinal))
            .Select(m => m[prefix.Length..].Split('/', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault())
            .OfType<string>()
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var name in kept)
        {
            // Validates the component (safe characters, no "..") the same way as every path into the jail root.
            _ = root.Combine(name);
        }

        List<string> Find(params string[] action) =>
            ["find", target, "-mindepth", "1", "-maxdepth", "1", .. kept.SelectMany(k => new[] { "!", "-name", k }), "-exec", .. action, "{}", "+"];

        return ShellCommand.Of("mkdir", "-p", target)
            .And(ShellCommand.FromArgv(Find("chflags", "-R", Chflags.ClearFlags)))
            .And(ShellCommand.FromArgv(Find("rm", "-rf")));
    }

    /// <summary>
    /// Judges a finished transfer from its two status files and its standard error (FREEBSD.md): complete only
    /// when both sides exited 0, dump printed no abort, and restore printed none of its failure phrases
    /// (<see cref="Restore.FailureIn"/>: without a tty it answers "no" to <c>abort?</c> and exits 0). A dump that
    /// printed <c>dump downgraded, -L ignored</c>, or ran without <c>-L</c>, is complete but not snapshot-consistent.
    /// </summary>
    /// <param name="dumpStatus">Contents of the dump status file, or null when it is missing (the side never ended).</param>
    /// <param name="restoreStatus">Contents of the restore status file, or null when missing.</param>
    /// <param name="stderr">The job's standard error (dump's <c>DUMP:</c> lines and restore's messages).</param>
    /// <param name="snapshotRequested">Whether the command carried <c>-L</c> (<see cref="Dump.UsesSnapshot"/> and asked).</param>
    /// <returns>The verdict.</returns>
    public static TransferVerdict Judge(string? dumpStatus, string? restoreStatus, string stderr, bool snapshotRequested)
    {
        ArgumentNullException.ThrowIfNull(stderr);
        var problems = new List<string>();
        var dumpExit = ExitStatus(dumpStatus);
        var restoreExit = ExitStatus(restoreStatus);
        if (dumpExit is null)
        {
            problems.Add(dumpStatus is null ? "ssh/dump left no exit status (killed or still running)" : $"ssh/dump status '{dumpStatus.Trim()}' is not a number");
        }
        else if (dumpExit != 0)
        {
            problems.Add(dumpExit switch
            {
                1 => "dump exited 1 (startup error, e.g. snapshot creation failed)",
                3 => "dump exited 3 (abnormal termination)",
                255 => "ssh exited 255 (connection, authentication or host key failure)",
                _ => $"ssh/dump exited {dumpExit}",
            });
        }

        if (restoreExit is null)
        {
            problems.Add(restoreStatus is null ? "restore left no exit status (killed or still running)" : $"restore status '{restoreStatus.Trim()}' is not a number");
        }
        else if (restoreExit != 0)
        {
            problems.Add($"restore exited {restoreExit}");
        }

        var lines = Dump.ParseStderr(stderr);
        problems.AddRange(lines.Where(l => l.Kind == DumpLineKind.Aborted).Select(l => "dump: " + l.Text));
        problems.AddRange(Restore.FailureIn(stderr).Select(f => "restore: " + f.Line));
        var downgraded = lines.Any(l => l.Kind == DumpLineKind.NotSnapshotConsistent);
        return new TransferVerdict(problems.Count == 0, snapshotRequested && !downgraded, dumpExit, restoreExit, problems);
    }

    private static int? ExitStatus(string? text) =>
        int.TryParse(text?.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null;
}

/// <summary>The verdict on one partition's transfer (<see cref="Transfer.Judge"/>).</summary>
/// <param name="Complete">Both sides exited 0 and no failure was printed.</param>
/// <param name="SnapshotConsistent">The dump was of a UFS snapshot (<c>-L</c> asked and not downgraded); false for 4.x and for downgrades.</param>
/// <param name="DumpExitStatus">ssh/dump's exit status, or null when unknown.</param>
/// <param name="RestoreExitStatus">restore's exit status, or null when unknown.</param>
/// <param name="Problems">Why it is not complete, one line each (empty when complete).</param>
public sealed record TransferVerdict(bool Complete, bool SnapshotConsistent, int? DumpExitStatus, int? RestoreExitStatus, IReadOnlyList<string> Problems);
