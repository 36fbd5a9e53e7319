namespace JailWorkflows.FaultTests;

/// <summary>
/// The lab knob that makes a source server's dump of one file system pause halfway (LAB_DUMP_PAUSE in the server's
/// etc/lab.conf; src/JailWorkflows.Lab/README.md). Cleared on dispose, so a paused dump always goes on.
/// </summary>
internal sealed class DumpPause : IAsyncDisposable
{
    private readonly string _file;

    private DumpPause(string file, string mountPoint)
    {
        _file = file;
        MountPoint = mountPoint;
    }

    /// <summary>The file system whose dump pauses.</summary>
    public string MountPoint { get; }

    public static async Task<DumpPause> SetAsync(LabFixture lab, string server, string mountPoint)
    {
        var file = Path.Combine(lab.Info.Server(server).Directory, "etc/lab.conf");
        await File.WriteAllTextAsync(file, $"LAB_DUMP_PAUSE={mountPoint}\n");
        return new DumpPause(file, mountPoint);
    }

    public void Clear() => File.Delete(_file);

    public ValueTask DisposeAsync()
    {
        Clear();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A small ext4 file system of the test's own: a sparse image file, a loop device (losetup), mounted on a directory;
/// unmounted, detached and deleted on dispose (as the lab makes its partitions: mke2fs on an image, losetup -f --show).
/// </summary>
internal sealed class LoopFileSystem(string image, string device, string mountPoint) : IAsyncDisposable
{

    public static async Task<LoopFileSystem> MountAsync(string image, string mountPoint, int sizeMiB)
    {
        await Checked("truncate", "-s", $"{sizeMiB}M", image);
        await Checked("mkfs.ext4", "-q", "-F", "-m", "0", image);
        var device = (await Checked("losetup", "-f", "--show", image)).Trim();
        var fileSystem = new LoopFileSystem(image, device, mountPoint);
        try
        {
            Directory.CreateDirectory(mountPoint);
            await Checked("mount", device, mountPoint);
            return fileSystem;
        }
        catch
        {
            await fileSystem.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (File.ReadAllText("/proc/self/mountinfo").Contains(" " + mountPoint + " ", StringComparison.Ordinal))
        {
            await Checked("umount", mountPoint);
        }

        if (Local.LoopBackingFile(device) == image)
        {
            await Checked("losetup", "-d", device);
        }

        File.Delete(image);
    }

    private static async Task<string> Checked(string program, params string[] args)
    {
        var run = await Local.RunAsync(program, args);
        Assert.True(run.ExitCode == 0, $"{program} {string.Join(' ', args)}: {run}");
        return run.StdOut;
    }
}
