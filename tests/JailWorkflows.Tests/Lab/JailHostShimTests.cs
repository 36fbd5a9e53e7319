using System.Globalization;
using System.Net.Sockets;
using JailWorkflows.Lab;
using JailWorkflows.Shell;

namespace JailWorkflows.Tests.Lab;

[Collection(LabCollection.Name)]
public sealed class JailHostShimTests(LabFixture fixture)
{
    private LabInfo Info => fixture.Info;

    private Task<Run> OnJailHost(ShellCommand command) => LabSsh.RunAsync(Info.JailHost.Ssh, command);

    /// <summary>A jail that started: its root and its init's pid on this machine.</summary>
    public sealed record StartedJail(string Name, string Root, string Conf, int InitPid, Run Start);

    /// <summary>
    /// Makes a tiny busybox jail tree (rc starts httpd on the jail's address, rc.shutdown leaves a marker),
    /// writes its jail.conf and starts it with `jail -f conf -c name` over the jail host's sshd.
    /// </summary>
    public static async Task<StartedJail> StartTinyJailAsync(LabInfo info, string name, string ip)
    {
        var root = Path.Combine(info.JailHost.JailsDir, name);
        foreach (var d in new[] { "bin", "usr/sbin", "etc", "dev", "proc", "tmp", "www" })
        {
            Directory.CreateDirectory(Path.Combine(root, d));
        }

        File.Copy("/bin/busybox", Path.Combine(root, "bin/busybox"), overwrite: true);
        foreach (var applet in new[] { "sh", "hostname", "ps", "cat", "echo", "sleep", "ls" })
        {
            var link = Path.Combine(root, "bin", applet);
            if (!File.Exists(link))
            {
                File.CreateSymbolicLink(link, "busybox");
            }
        }

        if (!File.Exists(Path.Combine(root, "usr/sbin/httpd")))
        {
            File.CreateSymbolicLink(Path.Combine(root, "usr/sbin/httpd"), "/bin/busybox");
        }

        await File.WriteAllTextAsync(Path.Combine(root, "www/index.html"), $"{name} says hi\n");
        await File.WriteAllTextAsync(Path.Combine(root, "etc/rc"), Local.Text(
            "#!/bin/sh",
            "echo \"rc: starting httpd on $JAILWF_JAIL_IP\"",
            "/usr/sbin/httpd -p \"$JAILWF_JAIL_IP:80\" -h /www"));
        await File.WriteAllTextAsync(Path.Combine(root, "etc/rc.shutdown"), Local.Text(
            "#!/bin/sh",
            "echo \"rc.shutdown on $(hostname)\" > /tmp/shutdown-ran"));
        var conf = Path.Combine(info.JailHost.JailConfDir, name + ".conf");
        await File.WriteAllTextAsync(conf, Local.Text(
            "# written by the lab tests",
            $"{name} {{",
            $"    path = \"{root}\";",
            $"    host.hostname = \"Tiny-{name}\";",
            $"    ip4.addr = {ip};",
            "    exec.start = \"/bin/sh /etc/rc\";",
            "    exec.stop = \"/bin/sh /etc/rc.shutdown\";",
            "    mount.devfs;",
            "    exec.clean;",
            "}"));

        var start = await LabSsh.RunAsync(info.JailHost.Ssh, ShellCommand.Of("jail", "-f", conf, "-c", name));
        Assert.True(start.ExitCode == 0, start.ToString());
        var record = File.ReadAllLines(Path.Combine(info.JailHost.JailRunDir, name));
        var pid = int.Parse(record.First(l => l.StartsWith("pid=", StringComparison.Ordinal))[4..], CultureInfo.InvariantCulture);
        return new StartedJail(name, root, conf, pid, start);
    }

    [LabFact]
    public async Task AJailStartsIsListedRunsCommandsServesItsAddressAndStopsCompletely()
    {
        var jail = await StartTinyJailAsync(Info, "tiny", "127.0.20.9");
        Assert.Contains("tiny: created", jail.Start.StdOut, StringComparison.Ordinal);
        Assert.Contains("rc: starting httpd on 127.0.20.9", jail.Start.StdOut, StringComparison.Ordinal);

        var jls = await OnJailHost(ShellCommand.Of("jls"));
        Assert.StartsWith("   JID  IP Address      Hostname                      Path\n", jls.StdOut, StringComparison.Ordinal);
        Assert.Matches($@"\n +\d+  127\.0\.20\.9 +Tiny-tiny +{jail.Root}\n", jls.StdOut);
        var named = await OnJailHost(ShellCommand.Of("jls", "-N"));
        Assert.Matches($@"\n tiny +127\.0\.20\.9 +Tiny-tiny +{jail.Root}\n", named.StdOut);
        var jid = (await OnJailHost(ShellCommand.Of("jls", "-j", "tiny", "jid"))).StdOut.Trim();
        Assert.Matches(@"^\d+$", jid);

        var hostname = await OnJailHost(ShellCommand.Of("jexec", "tiny", "hostname"));
        Assert.Equal("Tiny-tiny\n", hostname.StdOut);
        var byJid = await OnJailHost(ShellCommand.Of("jexec", jid, "cat", "/www/index.html"));
        Assert.Equal("tiny says hi\n", byJid.StdOut);
        // httpd binds a moment after rc returned, as a real daemon does: wait for the port, then ask.
        Assert.True(await Local.EventuallyAsync(() => Answers("127.0.20.9", 80).GetAwaiter().GetResult()), "httpd in the jail does not answer");
        var web = await OnJailHost(ShellCommand.Of("fetch", "-q", "-o", "-", "http://127.0.20.9/"));
        Assert.True(web.ExitCode == 0, web.ToString());
        Assert.Equal("tiny says hi\n", web.StdOut);
        var local = await Local.RunAsync("busybox", ["wget", "-q", "-O", "-", "http://127.0.20.9/"]);
        Assert.Equal("tiny says hi\n", local.StdOut);

        var inside = PidsInNamespaceOf(jail.InitPid);
        Assert.True(inside.Count >= 2, "init and httpd run in the jail");

        var again = await OnJailHost(ShellCommand.Of("jail", "-f", jail.Conf, "-c", "tiny"));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("jail: tiny: already exists", again.StdErr, StringComparison.Ordinal);

        var stop = await OnJailHost(ShellCommand.Of("jail", "-f", jail.Conf, "-r", "tiny"));
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Contains("tiny: removed", stop.StdOut, StringComparison.Ordinal);
        Assert.Equal("rc.shutdown on Tiny-tiny\n", await File.ReadAllTextAsync(Path.Combine(jail.Root, "tmp/shutdown-ran")));
        Assert.True(await Local.EventuallyAsync(() => inside.All(p => !Local.ProcessRuns(p))), "processes of the jail survived jail -r");
        Assert.DoesNotContain("tiny", (await OnJailHost(ShellCommand.Of("jls", "-N"))).StdOut, StringComparison.Ordinal);
        Assert.False(await Answers("127.0.20.9", 80), "httpd of a removed jail still answers");
        Assert.False(Directory.EnumerateFileSystemEntries(Path.Combine(jail.Root, "dev")).Any(), "the jail's devfs leaked into the host's mount namespace");
    }

    [LabFact]
    public async Task JailRefusesAMissingPathAMissingDevAndATakenAddress()
    {
        var missing = await OnJailHost(ShellCommand.Of("jail", "-c", "name=ghost", "path=/nonexistent/ghost", "host.hostname=ghost", "ip4.addr=127.0.20.30", "mount.devfs"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("jail: ghost: path /nonexistent/ghost: No such file or directory", missing.StdErr, StringComparison.Ordinal);

        var nodev = Path.Combine(Info.JailHost.JailsDir, "nodev");
        Directory.CreateDirectory(nodev);
        var noDev = await OnJailHost(ShellCommand.Of("jail", "-c", "name=nodev", $"path={nodev}", "ip4.addr=127.0.20.31", "mount.devfs"));
        Assert.Equal(1, noDev.ExitCode);
        Assert.Contains("mount.devfs", noDev.StdErr, StringComparison.Ordinal);

        var first = await StartTinyJailAsync(Info, "first", "127.0.20.32");
        var second = await StartTinyJailAsyncExpectingFailure("second", "127.0.20.32");
        Assert.Equal(1, second.ExitCode);
        Assert.Contains("Address already in use", second.StdErr, StringComparison.Ordinal);
        Assert.Equal(0, (await OnJailHost(ShellCommand.Of("jail", "-r", "first"))).ExitCode);
        Assert.False(Local.ProcessRuns(first.InitPid));

        var gone = await OnJailHost(ShellCommand.Of("jail", "-r", "first"));
        Assert.Equal(1, gone.ExitCode);
        Assert.Contains("\"first\" not found", gone.StdErr, StringComparison.Ordinal);
    }

    [LabFact]
    public async Task TheOldJailSyntaxStartsAJailNamedByItsJid()
    {
        var jail = await StartTinyJailAsync(Info, "oldstyle", "127.0.20.33");
        Assert.Equal(0, (await OnJailHost(ShellCommand.Of("jail", "-r", "oldstyle"))).ExitCode);

        var start = await OnJailHost(ShellCommand.Of("jail", jail.Root, "OldStyle", "127.0.20.33", "/bin/sh", "/etc/rc"));
        Assert.True(start.ExitCode == 0, start.ToString());
        var list = await OnJailHost(ShellCommand.Of("jls"));
        var line = list.StdOut.Split('\n').Single(l => l.Contains("OldStyle", StringComparison.Ordinal));
        var id = line.Trim().Split(' ')[0];
        Assert.Equal("OldStyle\n", (await OnJailHost(ShellCommand.Of("jexec", id, "hostname"))).StdOut);
        Assert.Equal(0, (await OnJailHost(ShellCommand.Of("jail", "-r", id))).ExitCode);
    }

    [LabFact]
    public async Task JlsOfAnUnknownJailFails()
    {
        var r = await OnJailHost(ShellCommand.Of("jls", "-j", "nosuchjail"));

        Assert.Equal(1, r.ExitCode);
        Assert.Equal("jls: jail \"nosuchjail\" not found\n", r.StdErr);
        var x = await OnJailHost(ShellCommand.Of("jexec", "nosuchjail", "true"));
        Assert.Equal(1, x.ExitCode);
        Assert.Contains("jexec: jail \"nosuchjail\" not found", x.StdErr, StringComparison.Ordinal);
    }

    [LabFact]
    public async Task ServiceJailStartsAndStopsFromJailConfD()
    {
        var jail = await StartTinyJailAsync(Info, "svc", "127.0.20.34");
        Assert.Equal(0, (await OnJailHost(ShellCommand.Of("jail", "-r", "svc"))).ExitCode);

        var start = await OnJailHost(ShellCommand.Of("service", "jail", "start", "svc"));
        Assert.Equal("Starting jails: svc.\n", start.StdOut);
        Assert.Equal(0, (await OnJailHost(ShellCommand.Of("jls", "-j", "svc"))).ExitCode);

        var twice = await OnJailHost(ShellCommand.Of("service", "jail", "start", "svc"));
        Assert.Equal(0, twice.ExitCode);
        Assert.Contains("cannot start jail \"svc\"", twice.StdOut, StringComparison.Ordinal);

        var stop = await OnJailHost(ShellCommand.Of("service", "jail", "stop", "svc"));
        Assert.Equal("Stopping jails: svc.\n", stop.StdOut);
        Assert.Equal(1, (await OnJailHost(ShellCommand.Of("jls", "-j", "svc"))).ExitCode);
        Assert.False(Local.ProcessRuns(jail.InitPid));

        var other = await OnJailHost(ShellCommand.Of("service", "sshd", "start"));
        Assert.Equal(1, other.ExitCode);
        Assert.Contains("sshd does not exist in /etc/rc.d", other.StdErr, StringComparison.Ordinal);
    }

    [LabFact]
    public async Task DaemonDetachesWritesThePidFileAndAppendsOutput()
    {
        var dir = Path.Combine(Info.JailHost.JobsDir, "daemon-test");
        Directory.CreateDirectory(dir);
        var pidFile = Path.Combine(dir, "pid");
        var output = Path.Combine(dir, "out");
        var release = Path.Combine(dir, "release");
        await File.WriteAllTextAsync(output, "earlier line\n");
        var script = $"echo started; while [ ! -e {ShellQuote.Quote(release)} ]; do sleep 0.05; done; echo finished; echo oops >&2";

        // The command waits for a file we create only after daemon returned: daemon cannot have waited for it.
        var r = await OnJailHost(ShellCommand.Of("daemon", "-f", "-p", pidFile, "-o", output, "sh", "-c", script));

        Assert.True(r.ExitCode == 0, r.ToString());
        var pid = int.Parse((await File.ReadAllTextAsync(pidFile)).Trim(), CultureInfo.InvariantCulture);
        Assert.True(Local.ProcessRuns(pid));
        Assert.Contains("sh -c", File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' '), StringComparison.Ordinal);
        var sid = File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].Split(' ')[3];
        Assert.NotEqual(sid, File.ReadAllText("/proc/self/stat").Split(") ")[1].Split(' ')[3]);

        var busy = await OnJailHost(ShellCommand.Of("daemon", "-f", "-p", pidFile, "sleep", "1"));
        Assert.Equal(3, busy.ExitCode);
        Assert.Contains($"daemon: process already running, pid: {pid}", busy.StdErr, StringComparison.Ordinal);

        await File.WriteAllTextAsync(release, string.Empty);
        Assert.True(await Local.EventuallyAsync(() => !File.Exists(pidFile)), "daemon(8) removes the pid file when the command exits");
        Assert.False(Local.ProcessRuns(pid));
        Assert.Equal("earlier line\nstarted\nfinished\noops\n", await File.ReadAllTextAsync(output));

        var usage = await OnJailHost(ShellCommand.Of("daemon", "-Z", "true"));
        Assert.Equal(1, usage.ExitCode);
        Assert.Contains("usage: daemon", usage.StdErr, StringComparison.Ordinal);
    }

    [LabFact]
    public async Task BuildworldFailsAtTheFailurePointResumesWithNoCleanAndCleansWithout()
    {
        var src = Info.JailHost.SrcDir;
        var stamps = Path.Combine(Info.JailHost.ObjDir + src, "world/.stamps");
        var make = ShellCommand.Of("cd", src);

        var failed = await OnJailHost(make.And(ShellCommand.Of("make", "-j2", "buildworld", "LAB_FAIL_AT=3")));
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Contains(">>> World build started on", failed.StdOut, StringComparison.Ordinal);
        Assert.Contains(">>> Stage 3: cross tools", failed.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain(">>> World build completed", failed.StdOut, StringComparison.Ordinal);
        Assert.Equal(["stage.1.1", "stage.1.2", "stage.2.3"], Directory.GetFiles(stamps).Select(Path.GetFileName).Order());
        var early = File.GetLastWriteTimeUtc(Path.Combine(stamps, "stage.1.1"));

        var refused = await OnJailHost(make.And(ShellCommand.Of("make", "installworld", $"DESTDIR={Info.JailHost.JailsDir}/never")));
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("did not complete", refused.StdErr, StringComparison.Ordinal);
        Assert.False(Directory.Exists($"{Info.JailHost.JailsDir}/never/bin"));

        var resumed = await OnJailHost(make.And(ShellCommand.Of("make", "-DNO_CLEAN", "buildworld")));
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains(">>> World build completed on", resumed.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("cleaning up the object tree", resumed.StdOut, StringComparison.Ordinal);
        Assert.Equal(early, File.GetLastWriteTimeUtc(Path.Combine(stamps, "stage.1.1")));
        Assert.True(File.Exists(Path.Combine(stamps, "world.complete")));

        var noDestdir = await OnJailHost(make.And(ShellCommand.Of("make", "installworld")));
        Assert.NotEqual(0, noDestdir.ExitCode);
        Assert.Contains("DESTDIR", noDestdir.StdErr, StringComparison.Ordinal);

        var target = Path.Combine(Info.JailHost.JailsDir, "world-target");
        Directory.CreateDirectory(Path.Combine(target, "etc"));
        await File.WriteAllTextAsync(Path.Combine(target, "etc/keep.me"), "mine\n");
        var install = await OnJailHost(make.And(ShellCommand.Of("make", "installworld", $"DESTDIR={target}")));
        Assert.True(install.ExitCode == 0, install.ToString());
        Assert.True(File.Exists(Path.Combine(target, "bin/busybox")));
        Assert.Equal("busybox", new FileInfo(Path.Combine(target, "bin/sh")).LinkTarget);
        Assert.Equal("mine\n", await File.ReadAllTextAsync(Path.Combine(target, "etc/keep.me")));

        // A finished world rebuilt with WITHOUT_CLEAN=yes redoes nothing (the failure point is never reached).
        var withoutClean = await OnJailHost(make.And(ShellCommand.Of("make", "buildworld", "WITHOUT_CLEAN=yes", "LAB_FAIL_AT=4.3")));
        Assert.True(withoutClean.ExitCode == 0, withoutClean.ToString());
        Assert.DoesNotContain("cleaning up the object tree", withoutClean.StdOut, StringComparison.Ordinal);
        Assert.Equal(early, File.GetLastWriteTimeUtc(Path.Combine(stamps, "stage.1.1")));

        var clean = await OnJailHost(make.And(ShellCommand.Of("make", "buildworld", "LAB_FAIL_AT=1.2")));
        Assert.NotEqual(0, clean.ExitCode);
        Assert.Contains("cleaning up the object tree", clean.StdOut, StringComparison.Ordinal);
        Assert.NotEqual(early, File.GetLastWriteTimeUtc(Path.Combine(stamps, "stage.1.1")));
        Assert.False(File.Exists(Path.Combine(stamps, "world.complete")));
        Assert.False(File.Exists(Path.Combine(stamps, "stage.4.3")));
    }

    [LabFact]
    public async Task MergemasterReportsDifferencesInstallsMissingFilesWithIAndStopsOnNodev()
    {
        var root = Path.Combine(Info.JailHost.JailsDir, "mm-root");
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        await File.WriteAllTextAsync(Path.Combine(root, "etc/hosts"), "10.11.12.13 ServerA\n");
        File.Copy(Path.Combine(Info.JailHost.SrcDir, "etc/networks"), Path.Combine(root, "etc/networks"), overwrite: true);
        await File.WriteAllTextAsync(Path.Combine(root, "etc/fstab"), string.Empty);
        ShellCommand Mergemaster(string temproot, params string[] flags) =>
            ShellCommand.Of("mergemaster", [.. flags, "-D", root, "-m", Info.JailHost.SrcDir, "-t", Path.Combine(Info.JailHost.JobsDir, temproot)]);

        var auto = await OnJailHost(Mergemaster("mm-a", "-a"));
        Assert.True(auto.ExitCode == 0, auto.ToString());
        Assert.Contains("   *** ./etc/hosts will remain for your consideration", auto.StdOut, StringComparison.Ordinal);
        Assert.Contains(" *** Temp ./etc/networks and installed are the same, deleting", auto.StdOut, StringComparison.Ordinal);
        Assert.Contains("   *** ./etc/shells will remain for your consideration", auto.StdOut, StringComparison.Ordinal);
        Assert.Contains("*** Files that remain for you to merge by hand:", auto.StdOut, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(Info.JailHost.JobsDir, "mm-a/etc/hosts")));
        Assert.False(File.Exists(Path.Combine(root, "etc/shells")), "-a leaves missing files in the temproot");

        var install = await OnJailHost(Mergemaster("mm-i", "-i"));
        Assert.True(install.ExitCode == 0, install.ToString());
        Assert.Contains("   *** ./etc/shells installed successfully", install.StdOut, StringComparison.Ordinal);
        Assert.Contains("How should I deal with this? [Leave it for later]", install.StdOut, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllText(Path.Combine(Info.JailHost.SrcDir, "etc/shells")), await File.ReadAllTextAsync(Path.Combine(root, "etc/shells")));
        Assert.Equal("10.11.12.13 ServerA\n", await File.ReadAllTextAsync(Path.Combine(root, "etc/hosts")));
        // make distribution puts boot/device.hints into the temproot and -i installs it, as on FreeBSD (jailwf drops boot first).
        Assert.True(File.Exists(Path.Combine(root, "boot/device.hints")), install.ToString());

        // $HOME/.mergemasterrc is read and MM_PRE_COMPARE_SCRIPT sourced in the temproot before comparing.
        Directory.Delete(Path.Combine(root, "boot"), recursive: true);
        var home = Path.Combine(Info.JailHost.JobsDir, "mm-home");
        Directory.CreateDirectory(home);
        await File.WriteAllTextAsync(Path.Combine(home, "drop-boot.sh"), JailWorkflows.FreeBsd.MergemasterRc.DropBootScript);
        await File.WriteAllTextAsync(Path.Combine(home, ".mergemasterrc"), JailWorkflows.FreeBsd.MergemasterRc.Render(Path.Combine(home, "drop-boot.sh")));
        var dropped = await OnJailHost(Mergemaster("mm-i2", "-i").WithEnvironment([new("HOME", home)]));
        Assert.True(dropped.ExitCode == 0, dropped.ToString());
        Assert.Contains("*** jailwf: boot removed from", dropped.StdOut, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(root, "boot")), dropped.ToString());

        var both = await OnJailHost(Mergemaster("mm-ai", "-a", "-i"));
        Assert.Equal(1, both.ExitCode);
        Assert.Contains("these options are not compatible", both.StdOut, StringComparison.Ordinal);

        var prompt = await OnJailHost(Mergemaster("mm-p", "-a").WithEnvironment([new("MERGEMASTER_LAB_PROMPT", "1")]));
        Assert.Equal(0, prompt.ExitCode);
        Assert.Contains("How to proceed? [i]", prompt.StdOut, StringComparison.Ordinal);

        await File.WriteAllTextAsync(Path.Combine(root, "etc/fstab"), "# /dev/ad0s1b /tmp mfs rw,nosuid,nodev 0 0\n");
        var nodev = await OnJailHost(Mergemaster("mm-n", "-a"));
        Assert.Equal(1, nodev.ExitCode);
        Assert.Contains("You have the deprecated 'nodev' option", nodev.StdOut, StringComparison.Ordinal);
    }

    [LabFact]
    public async Task SmallShimsAnswerLikeFreeBsd()
    {
        Assert.Equal("-1\n", (await OnJailHost(ShellCommand.Of("sysctl", "-n", "kern.securelevel"))).StdOut);
        Assert.Equal(Environment.ProcessorCount + "\n", (await OnJailHost(ShellCommand.Of("sysctl", "-n", "hw.ncpu"))).StdOut);
        var unknown = await OnJailHost(ShellCommand.Of("sysctl", "-n", "kern.nosuch"));
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("unknown oid 'kern.nosuch'", unknown.StdErr, StringComparison.Ordinal);
        Assert.Equal("14.1-RELEASE\n", (await OnJailHost(ShellCommand.Of("uname", "-r"))).StdOut);

        var dir = Path.Combine(Info.JailHost.JailsDir, "flags");
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        var file = Path.Combine(dir, "sub/f");
        await File.WriteAllTextAsync(file, "x");
        Assert.Equal(0, (await OnJailHost(ShellCommand.Of("chflags", "schg", file))).ExitCode);
        Assert.Contains('i', (await Local.RunAsync("lsattr", [file])).StdOut.Split(' ')[0]);
        Assert.Equal(0, (await OnJailHost(ShellCommand.Of("chflags", "-R", "noschg,nouchg,nosunlnk", dir))).ExitCode);
        Assert.DoesNotContain('i', (await Local.RunAsync("lsattr", [file])).StdOut.Split(' ')[0]);
        var bad = await OnJailHost(ShellCommand.Of("chflags", "sparkly", file));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("chflags: invalid flag: sparkly", bad.StdErr, StringComparison.Ordinal);

        var etc = Path.Combine(dir, "etc");
        Directory.CreateDirectory(etc);
        await File.WriteAllTextAsync(Path.Combine(etc, "master.passwd"), "# comment\nwww:*:80:80::0:0:World Wide Web Owner:/nonexistent:/usr/sbin/nologin\n");
        var pwd = await OnJailHost(ShellCommand.Of("pwd_mkdb", "-d", etc, "-p", Path.Combine(etc, "master.passwd")));
        Assert.True(pwd.ExitCode == 0, pwd.ToString());
        Assert.Equal("www:*:80:80:World Wide Web Owner:/nonexistent:/usr/sbin/nologin\n", await File.ReadAllTextAsync(Path.Combine(etc, "passwd")));

        var extract = await OnJailHost(ShellCommand.Of("etcupdate", "extract", "-D", dir));
        Assert.True(extract.ExitCode == 0, extract.ToString());
        Assert.True(File.Exists(Path.Combine(dir, "var/db/etcupdate/current/etc/rc")));
        Assert.Equal(0, (await OnJailHost(ShellCommand.Of("etcupdate", "status", "-D", dir))).ExitCode);

        var far = await OnJailHost(ShellCommand.Of("fetch", "-q", "-o", "-", "http://192.0.2.1/"));
        Assert.Equal(1, far.ExitCode);
        Assert.Contains("only loopback addresses", far.StdErr, StringComparison.Ordinal);
    }

    private async Task<Run> StartTinyJailAsyncExpectingFailure(string name, string ip)
    {
        var root = Path.Combine(Info.JailHost.JailsDir, name);
        Directory.CreateDirectory(Path.Combine(root, "dev"));
        return await OnJailHost(ShellCommand.Of("jail", "-c", $"name={name}", $"path={root}", $"ip4.addr={ip}", "mount.devfs", "exec.start=/bin/true"));
    }

    private static List<int> PidsInNamespaceOf(int pid)
    {
        var ns = new FileInfo($"/proc/{pid}/ns/pid").LinkTarget;
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var p))
            {
                try
                {
                    if (new FileInfo($"/proc/{p}/ns/pid").LinkTarget == ns)
                    {
                        pids.Add(p);
                    }
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }

        return pids;
    }

    private static async Task<bool> Answers(string address, int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(address, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
