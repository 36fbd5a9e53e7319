using JailWorkflows.FreeBsd;
using JailWorkflows.Plans;
using JailWorkflows.Shell;

namespace JailWorkflows.Tests.FreeBsd;

public sealed class TransferTests : IDisposable
{
    private readonly string _dir = TempDir.Create();

    public void Dispose() => Directory.Delete(_dir, true);

    internal static SshEndpoint Source(bool legacy = false, int port = 22) => new()
    {
        Address = "127.0.10.1",
        Port = port,
        User = "root",
        KeyFile = "/engine/key",
        HostKey = KnownHostsTests.Ed25519,
        LegacySsh = legacy,
    };

    [Fact]
    public void Modern_source_text()
    {
        var root = JailRoot.Create("/data/jails", "servera");
        var cmd = Transfer.Pipeline(Source(port: 2222), FreeBsdRelease.Parse("14.1-RELEASE"), "/usr", "/root/.ssh/transfer", "/var/db/jailwf/known_hosts", root, "/var/db/jailwf/jobs/7/dumpstatus", "/var/db/jailwf/jobs/7/restorestatus");
        Assert.Equal(
            "cd /data/jails/servera/usr && { ssh -F /dev/null -i /root/.ssh/transfer -o BatchMode=yes -o StrictHostKeyChecking=yes "
            + "-o UserKnownHostsFile=/var/db/jailwf/known_hosts -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o ConnectTimeout=30 "
            + "-o ServerAliveInterval=60 -o ServerAliveCountMax=5 -p 2222 -T root@127.0.10.1 'dump -0uaL -f - /usr'; "
            + "echo $? > /var/db/jailwf/jobs/7/dumpstatus; } | { restore -rf -; echo $? > /var/db/jailwf/jobs/7/restorestatus; } "
            + "&& grep -qx 0 /var/db/jailwf/jobs/7/dumpstatus && grep -qx 0 /var/db/jailwf/jobs/7/restorestatus",
            cmd.Text);
        Assert.DoesNotContain(" -t ", cmd.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Legacy_source_gets_old_algorithms_and_no_snapshot()
    {
        var root = JailRoot.Create("/data/jails", "servera");
        var cmd = Transfer.Pipeline(Source(legacy: true), FreeBsdRelease.Parse("4.10-RELEASE"), "/", "/k", "/kh", root, "/s/d", "/s/r");
        Assert.Contains(
            "-p 22 -o KexAlgorithms=+diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1 -o HostKeyAlgorithms=+ssh-rsa "
            + "-o PubkeyAcceptedAlgorithms=+ssh-rsa -o Ciphers=+aes128-cbc,3des-cbc -T root@127.0.10.1 'dump -0ua -f - /'",
            cmd.Text,
            StringComparison.Ordinal);
        Assert.StartsWith("cd /data/jails/servera && ", cmd.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Restore_gets_a_temporary_directory_of_its_own_when_asked()
    {
        var root = JailRoot.Create("/data/jails", "servera");
        var cmd = Transfer.Pipeline(Source(), FreeBsdRelease.Parse("4.10-RELEASE"), "/usr", "/k", "/kh", root, "/s/d", "/s/r", tempDirectory: "/var/db/jailwf/jobs/7/tmp");
        Assert.StartsWith("mkdir -p /var/db/jailwf/jobs/7/tmp && cd /data/jails/servera/usr && ", cmd.Text, StringComparison.Ordinal);
        Assert.Contains("| { TMPDIR=/var/db/jailwf/jobs/7/tmp restore -rf -; echo $? > /s/r; }", cmd.Text, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Transfer.Pipeline(Source(), FreeBsdRelease.Parse("4.10-RELEASE"), "/usr", "/k", "/kh", root, "/s/d", "/s/r", tempDirectory: "tmp"));
    }

    [Fact]
    public void Modern_sources_never_get_legacy_algorithms()
    {
        var cmd = Transfer.Pipeline(Source(), FreeBsdRelease.Parse("4.10-RELEASE"), "/", "/k", "/kh", JailRoot.Create("/j", "a"), "/s/d", "/s/r");
        Assert.DoesNotContain("sha1", cmd.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("ssh-rsa", cmd.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Legacy_options_are_accepted_by_the_installed_OpenSSH()
    {
        // ssh -G parses options and prints the resulting configuration without connecting.
        var argv = OpenSsh.Argv(Source(legacy: true), "/k", "/kh", ShellCommand.Of("true")).ToList();
        argv.Insert(1, "-G");
        var (status, stdout, stderr) = ShellRunner.Run(ShellCommand.FromArgv(argv));
        Assert.True(status == 0, stderr);
        Assert.Contains("diffie-hellman-group1-sha1", stdout, StringComparison.Ordinal);
        Assert.Contains("3des-cbc", stdout, StringComparison.Ordinal);
        Assert.Contains("requesttty false", stdout, StringComparison.Ordinal);
        Assert.Contains("stricthostkeychecking true", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsafe_inputs_are_refused()
    {
        var root = JailRoot.Create("/data/jails", "servera");
        var r = FreeBsdRelease.Parse("14.1-RELEASE");
        Assert.Throws<ArgumentException>(() => Transfer.Pipeline(Source(), r, "/usr/$(reboot)", "/k", "/kh", root, "/s/d", "/s/r"));
        Assert.Throws<ArgumentException>(() => Transfer.Pipeline(Source(), r, "/usr/../..", "/k", "/kh", root, "/s/d", "/s/r"));
        Assert.Throws<ArgumentException>(() => Transfer.Pipeline(Source(), r, "/usr", "/k", "/kh", root, "dumpstatus", "/s/r"));
        Assert.Throws<ArgumentException>(() => Transfer.Pipeline(Source() with { Address = "-oProxyCommand=sh" }, r, "/usr", "/k", "/kh", root, "/s/d", "/s/r"));
        Assert.Throws<ArgumentException>(() => Transfer.Pipeline(Source() with { User = "-l" }, r, "/usr", "/k", "/kh", root, "/s/d", "/s/r"));
        Assert.Throws<ArgumentException>(() => Transfer.Pipeline(Source(), r, "/usr", "k", "/kh", root, "/s/d", "/s/r"));
    }

    [Fact]
    public void Runs_as_a_real_pipeline_with_stub_ssh_dump_and_restore()
    {
        // Stubs: ssh records its argv and runs its last argument through sh, as sshd's login shell would;
        // dump records its argv and writes data; restore records argv and cwd and stores its stdin.
        var bin = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        var log = Directory.CreateDirectory(Path.Combine(_dir, "log")).FullName;
        Stub(bin, "ssh", $"for a in \"$@\"; do printf '%s\\0' \"$a\"; done > {log}/ssh.args\nfor last in \"$@\"; do :; done\nexec /bin/sh -c \"$last\"");
        Stub(bin, "dump", $"for a in \"$@\"; do printf '%s\\0' \"$a\"; done > {log}/dump.args\nprintf 'DUMPDATA'\necho '  DUMP: DUMP IS DONE' >&2\nexit 3");
        Stub(bin, "restore", $"for a in \"$@\"; do printf '%s\\0' \"$a\"; done > {log}/restore.args\npwd > {log}/restore.cwd\ncat > restored.bin");

        var jails = Directory.CreateDirectory(Path.Combine(_dir, "jails")).FullName;
        var root = JailRoot.Create(jails, "servera");
        Directory.CreateDirectory(root.Combine("usr"));
        var status = Directory.CreateDirectory(Path.Combine(_dir, "job dir $(x)")).FullName;
        var kh = Path.Combine(_dir, "known hosts; 'q'");
        var cmd = Transfer.Pipeline(Source(), FreeBsdRelease.Parse("14.1-RELEASE"), "/usr", "/keys/it's key", kh, root, status + "/dumpstatus", status + "/restorestatus");

        // dump exited 3: restore still took the stream, and the job as a whole exits non-zero.
        var (exit, _, stderr) = ShellRunner.Run(cmd, bin);
        Assert.True(exit == 1, $"exit {exit}: {stderr}");
        var sshArgs = ReadArgs(Path.Combine(log, "ssh.args"));
        Assert.Equal("/keys/it's key", sshArgs[sshArgs.IndexOf("-i") + 1]);
        Assert.Contains("UserKnownHostsFile=" + kh, sshArgs);
        Assert.Equal("root@127.0.10.1", sshArgs[^2]);
        Assert.Equal("dump -0uaL -f - /usr", sshArgs[^1]);
        Assert.Equal(["-0uaL", "-f", "-", "/usr"], ReadArgs(Path.Combine(log, "dump.args")));
        Assert.Equal(["-rf", "-"], ReadArgs(Path.Combine(log, "restore.args")));
        Assert.Equal(root.Combine("usr"), File.ReadAllText(Path.Combine(log, "restore.cwd")).Trim());
        Assert.Equal("DUMPDATA", File.ReadAllText(root.Combine("usr/restored.bin")));
        Assert.Equal("3", File.ReadAllText(Path.Combine(status, "dumpstatus")).Trim());
        Assert.Equal("0", File.ReadAllText(Path.Combine(status, "restorestatus")).Trim());
        Assert.Contains("DUMP IS DONE", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Judges_a_clean_transfer()
    {
        var v = Transfer.Judge("0\n", "0\n", "  DUMP: 50.00% done, finished in 0:01\n  DUMP: DUMP IS DONE\n", snapshotRequested: true);
        Assert.True(v.Complete);
        Assert.True(v.SnapshotConsistent);
        Assert.Empty(v.Problems);
    }

    [Fact]
    public void A_downgraded_snapshot_is_complete_but_not_consistent()
    {
        var v = Transfer.Judge("0", "0", "  DUMP: dump downgraded, -L ignored\n  DUMP: DUMP IS DONE\n", snapshotRequested: true);
        Assert.True(v.Complete);
        Assert.False(v.SnapshotConsistent);
        Assert.False(Transfer.Judge("0", "0", string.Empty, snapshotRequested: false).SnapshotConsistent);
    }

    [Theory]
    [InlineData("3", "0", "", "dump exited 3")]
    [InlineData("255", "0", "", "ssh exited 255")]
    [InlineData("0", "1", "", "restore exited 1")]
    [InlineData(null, "0", "", "ssh/dump left no exit status")]
    [InlineData("0", null, "", "restore left no exit status")]
    [InlineData("0", "0", "./etc/x: cannot create file: No space left on device\n", "restore: ./etc/x: cannot create file")]
    [InlineData("0", "0", "abort? [yn] ", "restore: abort?")]
    [InlineData("0", "0", "  DUMP: The ENTIRE dump is aborted.\n", "dump: DUMP: The ENTIRE dump is aborted.")]
    public void Failures_are_named(string? dump, string? restore, string stderr, string problem)
    {
        var v = Transfer.Judge(dump, restore, stderr, snapshotRequested: true);
        Assert.False(v.Complete);
        Assert.Contains(v.Problems, p => p.Contains(problem, StringComparison.Ordinal));
    }

    private static List<string> ReadArgs(string file)
    {
        var text = File.ReadAllText(file);
        return text.Length == 0 ? [] : [.. text[..^1].Split('\0')];
    }

    private static void Stub(string dir, string name, string body)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        TempDir.MakeExecutable(path);
    }
}
