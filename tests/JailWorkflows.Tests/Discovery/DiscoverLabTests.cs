using JailWorkflows.FreeBsd;
using JailWorkflows.Hosts;
using JailWorkflows.Lab;
using JailWorkflows.Plans;
using JailWorkflows.Tests.Lab;
using JailWorkflows.Tests.Support;
using Xunit.Abstractions;

namespace JailWorkflows.Tests.Discovery;

/// <summary><c>jailwf discover</c> as a real process against the lab's ServerA (FreeBSD 4.10, legacy-only sshd).</summary>
[Collection(LabCollection.Name)]
public sealed class DiscoverLabTests(LabFixture fixture, ITestOutputHelper log) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-discover-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [LabFact]
    public async Task Discovers_ServerA_with_legacy_ssh_into_a_plan_that_loads_once_the_jail_host_is_filled_in()
    {
        var a = fixture.Info.Server("ServerA");
        var layout = LabLayout.Servers.Single(s => s.Name == "ServerA");
        var output = Path.Combine(_dir, "servera.yaml");

        var (exit, stdout, stderr) = await Jailwf.RunAsync(Timeout,
            "discover", "root@127.0.1.1", "--legacy-ssh", "--key", fixture.Info.UserKeyFile, "--out", output);

        log.WriteLine($"exit {exit}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.True(exit == 0, $"exit {exit}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        var fingerprint = SshHost.Fingerprint(a.Ssh.HostKey);
        Assert.Contains(fingerprint, stdout, StringComparison.Ordinal);
        Assert.Contains("NOT verified", stdout, StringComparison.Ordinal);

        var yaml = await File.ReadAllTextAsync(output);
        log.WriteLine(yaml);
        var discovered = PlanLoader.Parse(yaml);
        Assert.Null(discovered.JailHost.Ssh);
        var server = Assert.Single(discovered.Servers);
        Assert.Equal("ServerA", server.Name);
        Assert.Equal("4.10-RELEASE", server.Release);
        Assert.Equal(a.Ssh, server.Ssh); // address, port, user, key file, the lab's pinned host key, legacySsh: true
        Assert.Equal(a.Partitions.Select(p => p.ToSpec()), server.Partitions);
        Assert.Equal(["/", "/usr", "/var"], server.Partitions.Select(p => p.MountPoint));
        Assert.Equal(new JailSpec { Name = "servera", Hostname = "ServerA.example.org", Ip = layout.LanIp }, server.Jail);

        // What the server's own files and file systems say, read through the shims.
        var services = Assert.Single(yaml.Split('\n'), l => l.Contains("Enabled services in /etc/rc.conf:", StringComparison.Ordinal));
        Assert.Contains("apache", services, StringComparison.Ordinal);
        Assert.Contains("sshd", services, StringComparison.Ordinal);
        Assert.DoesNotContain("ntpd", services, StringComparison.Ordinal);
        foreach (var p in layout.Partitions)
        {
            Assert.Matches($@"# {System.Text.RegularExpressions.Regex.Escape(p.MountPoint)} on {p.Device}: [1-9][0-9]* KiB used of {p.SizeMiB * 1024} KiB", yaml);
        }

        Assert.Contains($"fxp0 {layout.LanIp}/24", yaml, StringComparison.Ordinal);

        // The operator fills in the jail host (here: the lab's) and the plan loads with it.
        var labJailHost = PlanWriter.ToYaml(fixture.Info.ToPlan());
        var filled = labJailHost[..labJailHost.IndexOf("servers:", StringComparison.Ordinal)]
            + yaml[yaml.IndexOf("servers:", StringComparison.Ordinal)..];
        var plan = PlanLoader.Parse(filled);
        Assert.Equal(fixture.Info.ToPlan().JailHost, plan.JailHost);
        Assert.Equal(server with { Partitions = [] }, plan.Servers[0] with { Partitions = [] });
    }

    [LabFact]
    public async Task Without_legacy_ssh_a_4x_server_is_refused_with_exit_3_naming_the_flag()
    {
        var output = Path.Combine(_dir, "servera.yaml");

        var (exit, stdout, stderr) = await Jailwf.RunAsync(Timeout,
            "discover", "root@127.0.1.1", "--key", fixture.Info.UserKeyFile, "--out", output);

        log.WriteLine($"exit {exit}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.True(exit == 3, $"exit {exit}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.Contains("--legacy-ssh", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [LabFact]
    public async Task A_required_host_key_that_differs_fails_with_exit_3_and_both_fingerprints()
    {
        var key = Path.Combine(_dir, "other");
        var gen = await Local.RunAsync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", string.Empty, "-f", key]);
        Assert.True(gen.ExitCode == 0, gen.ToString());
        KnownHosts.TryNormalizeHostKey(await File.ReadAllTextAsync(key + ".pub"), out var other, out _);
        var output = Path.Combine(_dir, "servera.yaml");

        var (exit, stdout, stderr) = await Jailwf.RunAsync(Timeout,
            "discover", "root@127.0.1.1", "--legacy-ssh", "--key", fixture.Info.UserKeyFile, "--host-key", other, "--out", output);

        log.WriteLine($"exit {exit}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.True(exit == 3, $"exit {exit}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.Contains("Host key mismatch", stderr, StringComparison.Ordinal);
        Assert.Contains(SshHost.Fingerprint(other), stderr, StringComparison.Ordinal);
        Assert.Contains(SshHost.Fingerprint(fixture.Info.Server("ServerA").Ssh.HostKey), stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }
}
