using JailWorkflows.Lab;
using JailWorkflows.Shell;

namespace JailWorkflows.Tests.Lab;

[Collection(LabCollection.Name)]
public sealed class SourceServerTests(LabFixture fixture)
{
    [LabFact]
    public async Task UnameReportsEachServersRelease()
    {
        foreach (var (name, release) in new[] { ("ServerA", "4.10-RELEASE"), ("ServerB", "4.9-RELEASE"), ("ServerC", "4.7-RELEASE") })
        {
            var r = await LabSsh.RunAsync(fixture.Info.Server(name).Ssh, ShellCommand.Of("uname", "-r"));
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal(release + "\n", r.StdOut);
        }

        var s = await LabSsh.RunAsync(fixture.Info.Server("ServerA").Ssh, ShellCommand.Of("uname", "-s"));
        Assert.Equal("FreeBSD\n", s.StdOut);
        var bad = await LabSsh.RunAsync(fixture.Info.Server("ServerA").Ssh, ShellCommand.Of("uname", "-K"));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("usage: uname [-amnprsv]", bad.StdErr, StringComparison.Ordinal);
    }

    [LabFact]
    public async Task MountPListsThePartitionsInFstabFormat()
    {
        var r = await LabSsh.RunAsync(fixture.Info.Server("ServerA").Ssh, ShellCommand.Of("mount", "-p"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var ufs = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f[2] == "ufs")
            .Select(f => (f[0], f[1]))
            .ToList();
        Assert.Equal([("/dev/ad0s1a", "/"), ("/dev/ad0s1f", "/usr"), ("/dev/ad0s1e", "/var")], ufs);

        var c = await LabSsh.RunAsync(fixture.Info.Server("ServerC").Ssh, ShellCommand.Of("mount", "-p"));
        Assert.Equal(2, c.StdOut.Split('\n').Count(l => l.Contains("\tufs\t", StringComparison.Ordinal)));
    }

    [LabFact]
    public async Task DumpWithSnapshotFlagFailsOn4xLikeFreeBsd()
    {
        var r = await LabSsh.RunAsync(fixture.Info.Server("ServerA").Ssh, ShellCommand.Of("dump", "-0uaL", "-f", "-", "/usr"));

        Assert.Equal(1, r.ExitCode);
        Assert.Equal(string.Empty, r.StdOut);
        Assert.Contains("dump: illegal option -- L", r.StdErr, StringComparison.Ordinal);
        Assert.Contains("usage: dump [-0123456789acknSu]", r.StdErr, StringComparison.Ordinal);
    }

    [LabFact]
    public async Task DumpOnAFreeBsd5ServerAcceptsLAndDowngradesWithoutSnapDirectory()
    {
        // A copy of ServerA's shim directory that says 5.5-RELEASE, run locally on ServerA's partitions.
        var a = fixture.Info.Server("ServerA");
        var host = Path.Combine(Path.GetTempPath(), $"jailwf-lab-test-5x-{Guid.NewGuid():N}");
        foreach (var d in new[] { "bin", "libexec", "etc" })
        {
            Directory.CreateDirectory(Path.Combine(host, d));
        }

        File.Copy(Path.Combine(a.Directory, "bin/dump"), Path.Combine(host, "bin/dump"));
        File.Copy(Path.Combine(a.Directory, "libexec/lab-lib.sh"), Path.Combine(host, "libexec/lab-lib.sh"));
        File.Copy(Path.Combine(a.Directory, "etc/partitions"), Path.Combine(host, "etc/partitions"));
        await File.WriteAllTextAsync(Path.Combine(host, "etc/lab-host.conf"),
            (await File.ReadAllTextAsync(Path.Combine(a.Directory, "etc/lab-host.conf"))).Replace("4.10-RELEASE", "5.5-RELEASE", StringComparison.Ordinal));
        try
        {
            var withL = await Local.RunAsync(Path.Combine(host, "bin/dump"), ["-0uaL", "-f", "/dev/null", "/usr"]);
            Assert.True(withL.ExitCode == 0, withL.ToString());
            Assert.Contains("  DUMP: WARNING: -L requested but snapshot location /usr/.snap", withL.StdErr, StringComparison.Ordinal);
            Assert.Contains("is not a directory: dump downgraded, -L ignored", withL.StdErr, StringComparison.Ordinal);
            Assert.Contains("DUMP IS DONE", withL.StdErr, StringComparison.Ordinal);
            Assert.Matches(@"^/dev/ad0s1f\s+0 ", await File.ReadAllTextAsync(Path.Combine(host, "etc/dumpdates")));

            var withoutL = await Local.RunAsync(Path.Combine(host, "bin/dump"), ["-0a", "-f", "/dev/null", "/dev/ad0s1f"]);
            Assert.Contains("should use -L when dumping live read-write filesystems!", withoutL.StdErr, StringComparison.Ordinal);
            var usage = await Local.RunAsync(Path.Combine(host, "bin/dump"), ["-Z", "/usr"]);
            Assert.Equal(1, usage.ExitCode);
            Assert.Contains("usage: dump [-0123456789acLnSu]", usage.StdErr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(host, recursive: true);
        }
    }

    [LabFact]
    public async Task DumpOfAnUnknownFileSystemFails()
    {
        var r = await LabSsh.RunAsync(fixture.Info.Server("ServerC").Ssh, ShellCommand.Of("dump", "-0a", "-f", "-", "/var"));

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("not a file system of this server", r.StdErr, StringComparison.Ordinal);
    }

    [LabFact]
    public async Task AModernOnlyClientIsRefusedByTheLegacySshd()
    {
        var endpoint = fixture.Info.Server("ServerB").Ssh with { LegacySsh = false };

        var r = await LabSsh.RunAsync(endpoint, ShellCommand.Of("true"), "-o", "KexAlgorithms=curve25519-sha256", "-o", "LogLevel=INFO");

        Assert.Equal(255, r.ExitCode);
        Assert.Contains("no matching key exchange method", r.StdErr, StringComparison.Ordinal);
    }

    [LabFact]
    public async Task DumpRestoreFromTheJailHostKeepsHardLinksSparseFilesFlagsAndDevices()
    {
        var info = fixture.Info;
        var server = info.Server("ServerA");
        var root = Path.Combine(info.JailHost.JailsDir, "xfer-servera");
        var knownHosts = Path.Combine(info.JailHost.StateDir, "known_hosts.xfer-test");
        await File.WriteAllTextAsync(knownHosts, $"{server.Ssh.Address} {server.Ssh.HostKey}\n");
        Directory.CreateDirectory(root);

        foreach (var mountPoint in new[] { "/", "/usr" })
        {
            var target = mountPoint == "/" ? root : root + mountPoint;
            Directory.CreateDirectory(target);
            var ssh = ShellCommand.Of("ssh",
            [
                "-i", info.JailHost.TransferKeyFile, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", $"UserKnownHostsFile={knownHosts}", .. LabSsh.LegacyOptions,
                $"root@{server.Ssh.Address}", ShellCommand.Of("dump", "-0ua", "-f", "-", mountPoint).Text,
            ]);
            var transfer = ShellCommand.Of("cd", target).And(ssh.Pipe(ShellCommand.Of("restore", "-rf", "-")));

            var r = await LabSsh.RunAsync(info.JailHost.Ssh, transfer);

            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("DUMP IS DONE", r.StdErr, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(target, "restoresymtable")));
        }

        var index = Path.Combine(root, "usr/local/www/data/index.html");
        Assert.Contains(server.WebContent, await File.ReadAllTextAsync(index), StringComparison.Ordinal);
        Assert.Equal(await Stat("%i", index), await Stat("%i", index + ".en"));
        Assert.Equal("2", await Stat("%h", index));

        var sparse = Path.Combine(root, "usr/local/var/db/sessions.db");
        var parts = (await Stat("%b %B %s", sparse)).Split(' ').Select(long.Parse).ToArray();
        Assert.Equal(16L * 1024 * 1024, parts[2]);
        Assert.True(parts[0] * parts[1] < parts[2] / 100, $"allocated {parts[0] * parts[1]} bytes of {parts[2]}");

        foreach (var immutable in new[] { "boot/loader", "kernel", "usr/src/COPYRIGHT" })
        {
            var flags = (await Local.RunAsync("lsattr", [Path.Combine(root, immutable)])).StdOut.Split(' ')[0];
            Assert.Contains('i', flags);
        }

        Assert.Equal("character special file", await Stat("%F", Path.Combine(root, "dev/null")));
        Assert.Equal("block special file", await Stat("%F", Path.Combine(root, "dev/ad0s1a")));
        Assert.Contains("apache_enable=\"YES\"", await File.ReadAllTextAsync(Path.Combine(root, "etc/rc.conf")), StringComparison.Ordinal);
        Assert.Contains("/dev/ad0s1f", await File.ReadAllTextAsync(Path.Combine(server.Directory, "etc/dumpdates")), StringComparison.Ordinal);

        await Local.RunAsync("chattr", ["-R", "-f", "-i", root]);
        Directory.Delete(root, recursive: true);
    }

    private static async Task<string> Stat(string format, string path) =>
        (await Local.RunAsync("stat", ["-c", format, path])).StdOut.Trim();
}
