using System.Diagnostics;
using System.Globalization;
using JailWorkflows.Lab;

namespace JailWorkflows.Tests.Lab;

[Collection(LabCollection.Name)]
public sealed class LabLifecycleTests(LabFixture fixture)
{
    [LabFact]
    public async Task StatusListsEverySshdAndLoopDeviceRunning()
    {
        var status = await fixture.Lab.StatusAsync();

        Assert.True(status.IsUp, string.Join('\n', status.Components));
        var sshds = status.Components.Where(c => c.Kind == LabComponentKind.Sshd).ToList();
        Assert.Equal(["127.0.1.1:22", "127.0.1.2:22", "127.0.1.3:22", "127.0.10.1:22"], sshds.Select(s => s.Name).Order());
        Assert.All(sshds, s => Assert.True(s.Running, s.ToString()));
        var loops = status.Components.Where(c => c.Kind == LabComponentKind.LoopDevice).ToList();
        Assert.Equal(8, loops.Count);
        Assert.All(loops, l => Assert.True(l.Running, l.ToString()));
        foreach (var p in fixture.Info.Servers.SelectMany(s => s.Partitions))
        {
            Assert.Equal(p.ImageFile, Local.LoopBackingFile(p.LoopDevice!));
        }
    }

    [LabFact]
    public async Task SecondUpReusesTheRunningSshdsAndLoopDevices()
    {
        var before = await fixture.Lab.StatusAsync();
        var loopsBefore = (await Local.RunAsync("losetup", ["-a"])).StdOut;

        var info = await fixture.Lab.UpAsync();

        var after = await fixture.Lab.StatusAsync();
        Assert.Equal(Details(before, LabComponentKind.Sshd), Details(after, LabComponentKind.Sshd));
        Assert.Equal(Details(before, LabComponentKind.LoopDevice), Details(after, LabComponentKind.LoopDevice));
        Assert.Equal(Lines(loopsBefore), Lines((await Local.RunAsync("losetup", ["-a"])).StdOut));
        Assert.Equal(fixture.Info.JailHost.Ssh.HostKey, info.JailHost.Ssh.HostKey);
        Assert.True(after.IsUp);
    }

    [LabFact]
    public async Task UpRepairsAKilledSshdAndADetachedLoopDevice()
    {
        var before = await fixture.Lab.StatusAsync();
        var serverB = before.Components.Single(c => c.Kind == LabComponentKind.Sshd && c.Host == "serverb");
        var pidB = int.Parse(serverB.Detail.Split(' ')[1], CultureInfo.InvariantCulture);
        Process.GetProcessById(pidB).Kill();
        Assert.True(await Local.EventuallyAsync(() => !Local.ProcessRuns(pidB)));
        var usrC = fixture.Info.Server("ServerC").Partitions.Single(p => p.MountPoint == "/usr");
        Assert.Equal(0, (await Local.RunAsync("losetup", ["-d", usrC.LoopDevice!])).ExitCode);
        Assert.False((await fixture.Lab.StatusAsync()).IsUp);

        fixture.Info = await fixture.Lab.UpAsync();

        var after = await fixture.Lab.StatusAsync();
        Assert.True(after.IsUp, string.Join('\n', after.Components));
        Assert.NotEqual(serverB.Detail, after.Components.Single(c => c.Kind == LabComponentKind.Sshd && c.Host == "serverb").Detail);
        Assert.Equal(
            Details(before, LabComponentKind.Sshd).Where(d => !d.StartsWith("serverb", StringComparison.Ordinal)),
            Details(after, LabComponentKind.Sshd).Where(d => !d.StartsWith("serverb", StringComparison.Ordinal)));
        var repaired = fixture.Info.Server("ServerC").Partitions.Single(p => p.MountPoint == "/usr");
        Assert.Equal(repaired.ImageFile, Local.LoopBackingFile(repaired.LoopDevice!));
        var uname = await LabSsh.RunAsync(fixture.Info.Server("ServerB").Ssh, Shell.ShellCommand.Of("uname", "-r"));
        Assert.Equal("4.9-RELEASE\n", uname.StdOut);
        var mount = await LabSsh.RunAsync(fixture.Info.Server("ServerC").Ssh, Shell.ShellCommand.Of("dump", "-0a", "-f", "/dev/null", "/usr"));
        Assert.True(mount.ExitCode == 0, mount.ToString());
    }

    [LabFact]
    public async Task UpOfASecondLabDirectoryIsRefusedNamingTheRunningLab()
    {
        var other = "/var/tmp/jailwf-lab-test-second";
        var lab = new JailWorkflows.Lab.Lab(new LabOptions { Directory = other });

        var e = await Assert.ThrowsAsync<LabException>(() => lab.UpAsync());

        Assert.Contains(LabFixture.Directory, e.Message, StringComparison.Ordinal);
        Assert.Contains("in use", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(other), "a refused up must leave nothing behind");
    }

    [LabFact]
    public void TheFixtureHoldsTheMachinesLabLease()
    {
        Assert.True(LabLease.HeldByThisProcess);
        Assert.Null(LabLease.TryAcquire());
    }

    [LabFact]
    public void ThePlanDescribesTheLab()
    {
        var plan = fixture.Info.ToPlan();

        Assert.Equal("127.0.10.1", plan.JailHost.Ssh!.Address);
        Assert.StartsWith("ssh-ed25519 AAAA", plan.JailHost.Ssh.HostKey, StringComparison.Ordinal);
        Assert.False(plan.JailHost.Ssh.LegacySsh);
        Assert.Equal(LabFixture.Directory + "/jailhost/jails", plan.JailHost.JailsDir);
        Assert.Equal(LabFixture.Directory + "/jailhost/usr/src", plan.JailHost.SrcDir);
        Assert.Equal(LabFixture.Directory + "/jailhost/usr/obj", plan.JailHost.ObjDir);
        Assert.Equal(LabFixture.Directory + "/jailhost/etc/jail.conf.d", plan.JailHost.JailConfDir);
        Assert.True(File.Exists(plan.JailHost.TransferKeyFile));
        Assert.Equal(["ServerA", "ServerB", "ServerC"], plan.Servers.Select(s => s.Name));
        var a = plan.Server("ServerA");
        Assert.True(a.Ssh.LegacySsh);
        Assert.StartsWith("ssh-rsa AAAA", a.Ssh.HostKey, StringComparison.Ordinal);
        Assert.Equal("4.10-RELEASE", a.Release);
        Assert.Equal(["/", "/usr", "/var"], a.Partitions.Select(p => p.MountPoint));
        Assert.Equal(["/dev/ad0s1a", "/dev/ad0s1f", "/dev/ad0s1e"], a.Partitions.Select(p => p.Device!));
        Assert.Equal(("servera", "ServerA", "127.0.20.1"), (a.Jail.Name, a.Jail.Hostname, a.Jail.Ip));
        Assert.Equal(["/", "/usr"], plan.Server("ServerC").Partitions.Select(p => p.MountPoint));
    }

    [LabFact]
    public async Task DownRemovesExactlyWhatTheLabMadeAndNothingElse()
    {
        var lab = fixture.Lab;
        var info = fixture.Info;

        // Things of our own that must survive: a process and a loop device.
        using var sleep = Process.Start("sleep", "600");
        var ownImage = Path.Combine(Path.GetTempPath(), $"jailwf-lab-test-own-{Guid.NewGuid():N}.img");
        await File.WriteAllBytesAsync(ownImage, new byte[1024 * 1024]);
        var ownLoop = (await Local.RunAsync("losetup", ["-f", "--show", ownImage])).StdOut.Trim();
        try
        {
            // Things the lab's shims start: a jail and a host job.
            var jail = await JailHostShimTests.StartTinyJailAsync(info, "downjail", "127.0.20.19");
            var job = await LabSsh.RunAsync(info.JailHost.Ssh, Shell.ShellCommand.Of("daemon", "-f", "-p", Path.Combine(info.JailHost.JobsDir, "down.pid"), "sleep", "600"));
            Assert.Equal(0, job.ExitCode);
            var jobPid = int.Parse(File.ReadAllText(Path.Combine(info.JailHost.JobsDir, "down.pid")).Trim(), CultureInfo.InvariantCulture);

            var status = await lab.StatusAsync();
            var sshdPids = status.Components.Where(c => c.Kind == LabComponentKind.Sshd)
                .Select(c => int.Parse(c.Detail.Split(' ')[1], CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(4, sshdPids.Count);
            Assert.Contains(status.Components, c => c.Kind == LabComponentKind.Jail && c.Name == "downjail" && c.Running);
            Assert.Contains(status.Components, c => c.Kind == LabComponentKind.HostJob && c.Running);
            var loops = info.Servers.SelectMany(s => s.Partitions).Select(p => (p.LoopDevice!, p.ImageFile)).ToList();

            await lab.DownAsync();

            Assert.All(sshdPids, pid => Assert.False(Local.ProcessRuns(pid), $"sshd {pid} still runs"));
            Assert.False(Local.ProcessRuns(jail.InitPid), "the jail's init still runs");
            Assert.False(Local.ProcessRuns(jobPid), "the host job still runs");
            Assert.All(loops, l => Assert.NotEqual(l.ImageFile, Local.LoopBackingFile(l.Item1)));
            Assert.False(File.Exists(lab.StateFile));
            Assert.False(Directory.Exists(LabFixture.Directory));
            var after = await lab.StatusAsync();
            Assert.False(after.IsUp);
            Assert.Empty(after.Components);

            Assert.True(Local.ProcessRuns(sleep!.Id), "down ended a process it did not start");
            Assert.Equal(ownImage, Local.LoopBackingFile(ownLoop));
        }
        finally
        {
            sleep!.Kill();
            await Local.RunAsync("losetup", ["-d", ownLoop]);
            File.Delete(ownImage);
            fixture.Info = await lab.UpAsync();
        }
    }

    private static List<string> Details(LabStatus s, LabComponentKind kind) =>
        s.Components.Where(c => c.Kind == kind).Select(c => $"{c.Host} {c.Name} {c.Detail}").Order().ToList();

    private static List<string> Lines(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order().ToList();
}
