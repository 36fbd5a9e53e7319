using System.Globalization;

namespace JailWorkflows.Lab;

/// <summary>
/// A lab source server made live for a while, as a real server is while its level-0 dump runs: its partitions are
/// mounted read-write at <see cref="Root"/> (<c>&lt;server dir&gt;/live</c>, <c>/</c> first; a tmpfs with Linux null, zero,
/// random and urandom nodes over its <c>dev</c>, whose 4.x nodes mean nothing on Linux) and its <c>/etc/rc</c> runs
/// chrooted there, starting its services (ServerA/B/C: busybox httpd on the server's own address, port 80). The source's
/// <c>sh</c> shim then runs the server's rc scripts in that tree, so <c>sh /usr/local/etc/rc.d/apache.sh stop</c> over ssh
/// stops the service. Everything is undone by <see cref="DisposeAsync"/>: the processes running in the tree are ended
/// (by pid), the partitions unmounted, and each partition image written back (through its loop device) from the copy
/// taken before mounting, with the server's <c>etc/dumpdates</c>: the shared lab is as before. Root only.
/// </summary>
public sealed class LabLiveSource : IAsyncDisposable
{
    private const string BackupSuffix = ".before-live";
    private readonly LabSourceServer _server;

    private LabLiveSource(LabSourceServer server)
    {
        _server = server;
        Root = RootOf(server);
    }

    /// <summary>Where the server's tree is mounted: <c>&lt;server dir&gt;/live</c>.</summary>
    public string Root { get; }

    /// <summary>
    /// Makes the server live: copies its partition images and <c>etc/dumpdates</c> aside, mounts the partitions at
    /// <see cref="Root"/> and runs its <c>/etc/rc</c> chrooted there (waiting until that script ends; the services it
    /// starts stay). Leftovers of an earlier live run that was not disposed are undone first.
    /// </summary>
    /// <param name="server">The server (from <see cref="Lab.Describe"/>; its loop devices must be attached).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The live server; dispose it to undo everything.</returns>
    /// <exception cref="LabException">Not root, no loop device recorded, or a step failed.</exception>
    public static async Task<LabLiveSource> StartAsync(LabSourceServer server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (!Environment.IsPrivilegedProcess)
        {
            throw new LabException("A live lab source needs root (mount, chroot).");
        }

        var live = new LabLiveSource(server);
        await live.UndoAsync(cancellationToken).ConfigureAwait(false);
        foreach (var p in server.Partitions)
        {
            if (p.LoopDevice is null)
            {
                throw new LabException($"{server.Name} {p.MountPoint}: no loop device recorded; is the lab up?");
            }

            await LabProcesses.RunCheckedAsync("cp", ["--sparse=always", p.ImageFile, p.ImageFile + BackupSuffix], cancellationToken).ConfigureAwait(false);
        }

        var dumpdates = Path.Combine(server.Directory, "etc/dumpdates");
        if (File.Exists(dumpdates))
        {
            File.Copy(dumpdates, dumpdates + BackupSuffix, overwrite: true);
        }

        Directory.CreateDirectory(live.Root);
        foreach (var p in Ordered(server))
        {
            await LabProcesses.RunCheckedAsync("mount", ["-t", "ext4", p.LoopDevice!, live.Target(p)], cancellationToken).ConfigureAwait(false);
        }

        // A devfs of the Linux kind over the image's 4.x device nodes (FreeBSD majors, nothing behind them on Linux):
        // /etc/rc and the rc scripts redirect to /dev/null. As the lab's jail-init does for jails.
        var dev = Path.Combine(live.Root, "dev");
        await LabProcesses.RunCheckedAsync("mount", ["-t", "tmpfs", "-o", "mode=0755,size=64k", "jailwf-live-dev", dev], cancellationToken).ConfigureAwait(false);
        foreach (var (name, minor) in new[] { ("null", "3"), ("zero", "5"), ("random", "8"), ("urandom", "9") })
        {
            await LabProcesses.RunCheckedAsync("mknod", ["-m", "0666", Path.Combine(dev, name), "c", "1", minor], cancellationToken).ConfigureAwait(false);
        }

        // setsid: the services get a session of their own, not this process's; /etc/rc ends once it has started them.
        await LabProcesses.RunCheckedAsync(
            "setsid",
            ["-w", "/bin/sh", "-c", "exec env -i PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/ JAILWF_JAIL_IP=\"$1\" chroot \"$2\" /bin/sh /etc/rc </dev/null >>\"$3\" 2>&1", "live-rc", server.Ssh.Address, live.Root, Path.Combine(server.Directory, "live-rc.log")],
            cancellationToken).ConfigureAwait(false);
        return live;
    }

    /// <summary>The pids of the processes running in the live tree (their root directory is <see cref="Root"/>).</summary>
    /// <returns>The pids.</returns>
    public IReadOnlyList<int> Processes() => ProcessesIn(Root);

    /// <summary>Writes the live file systems' data to their devices (<c>sync -f</c>), as a test does after changing files.</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    public async Task SyncAsync(CancellationToken cancellationToken = default)
    {
        foreach (var p in Ordered(_server))
        {
            await LabProcesses.RunCheckedAsync("sync", ["-f", Target(p)], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await UndoAsync(CancellationToken.None).ConfigureAwait(false);

    private static string RootOf(LabSourceServer server) => Path.Combine(server.Directory, "live");

    private static IEnumerable<LabPartition> Ordered(LabSourceServer server) =>
        server.Partitions.OrderBy(p => p.MountPoint == "/" ? 0 : p.MountPoint.Count(c => c == '/')).ThenBy(p => p.MountPoint, StringComparer.Ordinal);

    private string Target(LabPartition p) => p.MountPoint == "/" ? Root : Root + p.MountPoint;

    private static List<int> ProcessesIn(string root)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                if (new DirectoryInfo(Path.Combine(dir, "root")).LinkTarget == root)
                {
                    pids.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone meanwhile
            }
        }

        return pids;
    }

    /// <summary>Ends the processes in the tree, unmounts it, and writes the images and dumpdates back from their copies.</summary>
    private async Task UndoAsync(CancellationToken cancellationToken)
    {
        foreach (var pid in ProcessesIn(Root))
        {
            if (LabProcesses.StartTime(pid) is { } start)
            {
                await LabProcesses.EndAsync(pid, start, killAtOnce: false, TimeSpan.FromSeconds(3), TimeProvider.System, cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var target in Ordered(_server).Reverse().Select(Target).Prepend(Path.Combine(Root, "dev")))
        {
            if ((await LabProcesses.RunAsync("mountpoint", ["-q", target], cancellationToken).ConfigureAwait(false)).ExitCode == 0)
            {
                await LabProcesses.RunCheckedAsync("umount", [target], cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var p in _server.Partitions)
        {
            var backup = p.ImageFile + BackupSuffix;
            if (!File.Exists(backup))
            {
                continue;
            }

            // Through the loop device, so its page cache holds what the image holds.
            await LabProcesses.RunCheckedAsync("dd", ["if=" + backup, "of=" + p.LoopDevice, "bs=1M", "conv=fsync", "status=none"], cancellationToken).ConfigureAwait(false);
            File.Delete(backup);
        }

        var dumpdates = Path.Combine(_server.Directory, "etc/dumpdates");
        if (File.Exists(dumpdates + BackupSuffix))
        {
            File.Move(dumpdates + BackupSuffix, dumpdates, overwrite: true);
        }

        if (Directory.Exists(Root) && !Directory.EnumerateFileSystemEntries(Root).Any())
        {
            Directory.Delete(Root);
        }
    }
}
