using System.Globalization;
using JailWorkflows.Hosts;
using JailWorkflows.Plans;
using JailWorkflows.Shell;
using Microsoft.Extensions.Logging.Testing;

namespace JailWorkflows.Tests.Hosts;

[Collection(SshdCollection.Name)]
public sealed class SshHostTests(SshdFixture sshd) : IAsyncLifetime
{
    private readonly List<SshHost> _hosts = [];
    private string _dir = string.Empty;

    public Task InitializeAsync()
    {
        if (Environment.IsPrivilegedProcess)
        {
            _dir = Directory.CreateTempSubdirectory("jailwf-hosts-ssh-").FullName;
        }

        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        if (_dir.Length > 0)
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [RootFact]
    public Task OutputAndStatus() => HostContract.OutputAndStatus(Modern());

    [RootFact]
    public Task StandardInputIsBinarySafeWithoutPty() => HostContract.StandardInputIsBinarySafe(Modern());

    [RootFact]
    public Task ArgumentsArriveVerbatim() => HostContract.ArgumentsArriveVerbatim(Modern(), Path.Combine(_dir, "args"));

    [RootFact]
    public Task FilesRoundTrip() => HostContract.FilesRoundTrip(Modern(), Path.Combine(_dir, "files"));

    [RootFact]
    public Task CancellationKillsTheRemoteCommandTree() => HostContract.CancellationEndsTheCommandTree(Modern(), Path.Combine(_dir, "cancel"));

    [RootFact]
    public void NameIsUserAtAddressAndPort() =>
        Assert.Equal("root@127.0.77.1:22", Modern().Name);

    [RootFact]
    public async Task ModernHostNegotiatesAesGcmFirst()
    {
        var log = new FakeLogger<SshHost>();
        var host = Track(new SshHost(sshd.Modern, null, log));
        Assert.Equal("ok\n", (await host.RunAsync(ShellCommand.Of("echo", "ok"))).StdOut);
        var connected = Assert.Single(Lines(log), l => l.StartsWith("Connected", StringComparison.Ordinal));
        Assert.Contains("cipher aes256-gcm@openssh.com", connected, StringComparison.Ordinal);
        Assert.Contains("host key ssh-ed25519", connected, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task WrongPinnedKeyIsRefusedWithBothFingerprintsAndRunsNothing()
    {
        var marker = Path.Combine(_dir, "marker");
        var host = Track(new SshHost(sshd.Modern with { HostKey = sshd.WrongHostKey }));

        var e = await Assert.ThrowsAsync<HostKeyMismatchException>(() => host.RunAsync(ShellCommand.Of("touch", marker)));

        Assert.Equal(sshd.KeygenFingerprint("wrong_ed25519"), e.ExpectedFingerprint);
        Assert.Equal(sshd.KeygenFingerprint("host_ed25519"), e.ActualFingerprint);
        Assert.Equal("root@127.0.77.1:22", e.Host);
        Assert.Contains(e.ExpectedFingerprint, e.Message, StringComparison.Ordinal);
        Assert.Contains(e.ActualFingerprint, e.Message, StringComparison.Ordinal);
        Assert.Contains("root@127.0.77.1:22", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(marker), "a command ran on a host whose key did not match");

        // Every later attempt is refused too (no trust on first use, no caching of a bad connection).
        await Assert.ThrowsAsync<HostKeyMismatchException>(() => host.RunAsync(ShellCommand.Of("touch", marker)));
        Assert.False(File.Exists(marker));
    }

    [RootFact]
    public void FingerprintMatchesSshKeygen()
    {
        Assert.Equal(sshd.KeygenFingerprint("host_ed25519"), SshHost.Fingerprint(sshd.ModernHostKey));
        Assert.Equal(sshd.KeygenFingerprint("host_rsa"), SshHost.Fingerprint(sshd.LegacyHostKey));
        Assert.Equal(sshd.KeygenFingerprint("host_rsa"), SshHost.Fingerprint(File.ReadAllText(Path.Combine(sshd.Dir, "host_rsa.pub"))));
        Assert.Equal(sshd.KeygenFingerprint("host_ed25519"), Track(new SshHost(sshd.Modern)).PinnedFingerprint);
    }

    [Fact]
    public void MalformedPinnedKeysAreRejected()
    {
        Assert.Throws<ArgumentException>(() => SshHost.Fingerprint("ssh-ed25519"));
        Assert.Throws<ArgumentException>(() => SshHost.Fingerprint("ssh-ed25519 not*base64"));

        // The type must match the blob (an ed25519 blob labelled ssh-rsa is refused).
        Assert.Throws<ArgumentException>(() => SshHost.Fingerprint("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"));
    }

    [RootFact]
    public async Task ScanReadsThePresentedKeyWithoutTrustingIt()
    {
        Assert.Equal(sshd.ModernHostKey, await SshHost.ScanHostKeyAsync(SshdFixture.ModernAddress, 22, legacy: false, CancellationToken.None));
        Assert.Equal(sshd.LegacyHostKey, await SshHost.ScanHostKeyAsync(SshdFixture.LegacyAddress, 22, legacy: true, CancellationToken.None));
        await Assert.ThrowsAsync<HostUnreachableException>(() => SshHost.ScanHostKeyAsync(SshdFixture.LegacyAddress, 22, legacy: false, CancellationToken.None));
    }

    [RootFact]
    public async Task UnreachablePortIsReportedWithTheHost()
    {
        var host = Track(new SshHost(sshd.Modern with { Address = SshdFixture.UnreachableAddress }));
        var e = await Assert.ThrowsAsync<HostUnreachableException>(() => host.RunAsync(ShellCommand.Of("true")));
        Assert.Equal("root@127.0.77.3:22", e.Host);
        Assert.Contains("root@127.0.77.3:22", e.Message, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task WrongUserKeyIsUnreachableNotMismatch()
    {
        var host = Track(new SshHost(sshd.Modern with { KeyFile = Path.Combine(sshd.Dir, "wrong_ed25519") }));
        var e = await Assert.ThrowsAsync<HostUnreachableException>(() => host.RunAsync(ShellCommand.Of("true")));
        Assert.Contains("authentication", e.Message, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task ModernHostCannotTalkToLegacySshdButLegacyHostCan()
    {
        var modern = Track(new SshHost(sshd.Legacy with { LegacySsh = false }));
        var e = await Assert.ThrowsAsync<HostUnreachableException>(() => modern.RunAsync(ShellCommand.Of("echo", "ok")));
        Assert.Contains("LegacySsh", e.Message, StringComparison.Ordinal);

        var log = new FakeLogger<SshHost>();
        var legacy = Track(new SshHost(sshd.Legacy, null, log));
        var result = await legacy.RunAsync(ShellCommand.Of("od", "-An", "-tx1"), "x\ny\n"u8.ToArray());
        Assert.Equal(" 78 0a 79 0a\n", result.StdOut);
        var connected = Assert.Single(Lines(log), l => l.StartsWith("Connected", StringComparison.Ordinal));
        Assert.Matches("kex diffie-hellman-group(-exchange)?1?-sha1", connected);
        Assert.Contains("host key ssh-rsa", connected, StringComparison.Ordinal);
        Assert.Contains("MAC hmac-sha1", connected, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task ConcurrentCommandsShareOneConnection()
    {
        var log = new FakeLogger<SshHost>();
        var host = Track(new SshHost(sshd.Modern, null, log));
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            host.RunAsync(ShellCommand.Of("sh", "-c", "cat; echo \" $1\"", "sh", i.ToString(CultureInfo.InvariantCulture)), [(byte)('a' + i)])));
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal($"{(char)('a' + i)} {i}\n", results[i].StdOut);
        }

        Assert.Single(Lines(log), l => l.StartsWith("Connected", StringComparison.Ordinal));
    }

    [RootFact]
    public async Task DroppedConnectionIsReopenedOnce()
    {
        var log = new FakeLogger<SshHost>();
        var host = Track(new SshHost(sshd.Modern, null, log));
        Assert.Equal("1\n", (await host.RunAsync(ShellCommand.Of("echo", "1"))).StdOut);

        // Kill the sshd process serving this connection (a child of the sshd we started).
        var before = sshd.ConnectionProcesses(SshdFixture.ModernAddress);
        Assert.NotEmpty(before);
        foreach (var pid in before)
        {
            Procs.KillTree(pid);
        }

        Assert.Equal("2\n", (await host.RunAsync(ShellCommand.Of("echo", "2"))).StdOut);
        Assert.Equal(2, Lines(log).Count(l => l.StartsWith("Connected", StringComparison.Ordinal)));
    }

    [Fact]
    public void DsaPinsNeedTheLegacyFlag()
    {
        var blob = new byte[] { 0, 0, 0, 7 }.Concat("ssh-dss"u8.ToArray()).Concat(new byte[] { 0, 0, 0, 1, 42 }).ToArray();
        var endpoint = new SshEndpoint { Address = "127.0.77.9", KeyFile = "/nonexistent", HostKey = "ssh-dss " + Convert.ToBase64String(blob) };
        var e = Assert.Throws<ArgumentException>(() => new SshHost(endpoint));
        Assert.Contains("LegacySsh", e.Message, StringComparison.Ordinal);
        using var legacy = new DisposeOnExit(new SshHost(endpoint with { LegacySsh = true }));
    }

    /// <summary>The messages SshHost logged (what it negotiated, each connection).</summary>
    private static IEnumerable<string> Lines(FakeLogger<SshHost> log) => log.Collector.GetSnapshot().Select(r => r.Message);

    private SshHost Modern() => Track(new SshHost(sshd.Modern));

    private SshHost Track(SshHost host)
    {
        _hosts.Add(host);
        return host;
    }

    private sealed class DisposeOnExit(SshHost host) : IDisposable
    {
        public void Dispose() => host.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
