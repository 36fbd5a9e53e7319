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
        bool snapshot = true)
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
        return ShellCommand.Of("cd", target)
            .And(ssh.RecordExitStatus(dumpStatusFile).Pipe(Restore.Command().RecordExitStatus(restoreStatusFile)));
    }
}
