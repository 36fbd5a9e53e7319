using JailWorkflows.FreeBsd;

namespace JailWorkflows.Tests.FreeBsd;

public class RcConfTests
{
    private const string Seed = """
        # -- sysinstall generated deltas -- #
        hostname="servera.example.org"
        ifconfig_fxp0="inet 192.0.2.10  netmask 255.255.255.0"
        ifconfig_fxp0_alias0="inet 192.0.2.20 netmask 255.255.255.255"
        defaultrouter="192.0.2.1"
        firewall_enable="YES"
        firewall_type="/etc/ipfw.rules"
        ntpd_enable="YES"
        keymap="german.iso"
        sshd_enable="YES"
        apache_enable=YES
        apache_flags="-DSSL"
        inetd_enable='NO'
        inetd_flags="-wW"
        sendmail_enable="NONE"
        syslogd_flags="-ss"

        # web content
        named_enable="yes"   # resolver
        named_flags="-u bind"
        nfs_server_enable="NO"
        nfs_server_flags="-u -t -n 4"
        nfs_reserved_port_only="YES"
        ipv6_enable="YES"
        . /etc/rc.conf.site
        """;

    [Fact]
    public void Keeps_services_and_their_settings_and_reports_every_removed_line()
    {
        var r = RcConf.Reduce(Seed);
        Assert.Equal(
            """
            # -- sysinstall generated deltas -- #
            sshd_enable="YES"
            apache_enable=YES
            apache_flags="-DSSL"
            inetd_enable='NO'
            sendmail_enable="NONE"
            syslogd_flags="-ss"

            # web content
            named_enable="yes"   # resolver
            named_flags="-u bind"
            nfs_server_enable="NO"
            nfs_reserved_port_only="YES"
            . /etc/rc.conf.site
            """,
            r.Kept);
        Assert.Equal(
            [
                "hostname=\"servera.example.org\"", "ifconfig_fxp0=\"inet 192.0.2.10  netmask 255.255.255.0\"",
                "ifconfig_fxp0_alias0=\"inet 192.0.2.20 netmask 255.255.255.255\"", "defaultrouter=\"192.0.2.1\"",
                "firewall_enable=\"YES\"", "firewall_type=\"/etc/ipfw.rules\"", "ntpd_enable=\"YES\"", "keymap=\"german.iso\"",
                "inetd_flags=\"-wW\"", "nfs_server_flags=\"-u -t -n 4\"", "ipv6_enable=\"YES\"",
            ],
            r.Removed.Select(l => l.Text));
        Assert.Equal([2, 3, 4, 5, 6, 7, 8, 9, 14, 22, 24], r.Removed.Select(l => l.LineNumber));
        Assert.Contains("host-only", r.Removed[0].Reason, StringComparison.Ordinal);
        Assert.Equal("setting of service 'inetd', which is not enabled", r.Removed[8].Reason);
        Assert.Equal(". /etc/rc.conf.site", Assert.Single(r.Unrecognised).Text);
    }

    [Fact]
    public void Is_idempotent()
    {
        var once = RcConf.Reduce(Seed);
        var twice = RcConf.Reduce(once.Kept);
        Assert.Equal(once.Kept, twice.Kept);
        Assert.Empty(twice.Removed);
    }

    [Theory]
    [InlineData("\"YES\"", true)]
    [InlineData("'yes'", true)]
    [InlineData("YES", true)]
    [InlineData("True", true)]
    [InlineData("on", true)]
    [InlineData("1", true)]
    [InlineData("\"NO\"", false)]
    [InlineData("NONE", false)]
    [InlineData("\"\"", false)]
    public void Reads_enable_values_like_checkyesno(string value, bool enabled)
    {
        var r = RcConf.Reduce($"foo_enable={value}\nfoo_flags=\"-x\"\n");
        Assert.Equal(enabled, r.Kept.Contains("foo_flags", StringComparison.Ordinal));
    }

    [Fact]
    public void The_last_enable_line_decides()
    {
        var r = RcConf.Reduce("foo_enable=\"YES\"\nfoo_flags=x\nfoo_enable=\"NO\"\n");
        Assert.Equal("foo_enable=\"YES\"\nfoo_enable=\"NO\"\n", r.Kept);
    }

    [Fact]
    public void Settings_belong_to_the_longest_enabled_service_prefix()
    {
        var r = RcConf.Reduce("sendmail_enable=NO\nsendmail_submit_enable=YES\nsendmail_submit_flags=-q\nsendmail_flags=-bd\n");
        Assert.Equal("sendmail_enable=NO\nsendmail_submit_enable=YES\nsendmail_submit_flags=-q\n", r.Kept);
        Assert.Equal("sendmail_flags=-bd", Assert.Single(r.Removed).Text);
    }

    [Fact]
    public void Multi_line_values_and_crlf_are_kept_whole()
    {
        var text = "apache_enable=YES\r\napache_flags=\"-a\r\n-b\"\r\nifconfig_em0=\"inet\r\n 10.0.0.1\"\r\n";
        var r = RcConf.Reduce(text);
        Assert.Equal("apache_enable=YES\r\napache_flags=\"-a\r\n-b\"\r\n", r.Kept);
        Assert.Equal(4, Assert.Single(r.Removed).LineNumber);
    }
}

public class FstabTests
{
    [Fact]
    public void Empties_every_entry_idempotently_and_leaves_no_nodev_for_mergemaster()
    {
        var fstab = "# Device\tMountpoint\tFStype\tOptions\tDump\tPass#\n/dev/ad0s1b\tnone\tswap\tsw\t0\t0\n/dev/ad0s1a\t/\tufs\trw\t1\t1\n\n  proc /proc procfs rw 0 0\n/dev/ad0s1b\t/tmp\tmfs\trw,nosuid,nodev,-s=65536\t0\t0\n";
        var emptied = Fstab.Emptied(fstab);
        Assert.Equal(Fstab.EmptiedText, emptied);
        Assert.Equal(emptied, Fstab.Emptied(emptied));
        Assert.DoesNotContain(MountP.Parse(emptied), _ => true);
        Assert.DoesNotContain("nodev", emptied, StringComparison.Ordinal);
        Assert.Equal(4, Fstab.Entries(fstab).Count);
        Assert.Empty(Fstab.Entries(emptied));
    }
}

public sealed class StripTests : IDisposable
{
    private readonly string _dir = TempDir.Create();

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Paths_and_flags()
    {
        Assert.Equal(["usr/src", "usr/ports", "usr/obj", "boot"], Strip.Paths);
        Assert.True(Strip.IsKernelEntry("kernel.old"));
        Assert.False(Strip.IsKernelEntry("etc"));
        var root = JailRoot.Create("/data/jails", "servera");
        Assert.Equal("chflags -R noschg,nouchg,nosappnd,nouappnd,nosunlnk,nouunlnk /data/jails/servera/usr/src", Chflags.ClearRecursive(root, "usr/src").Text);
        Assert.Throws<ArgumentException>(() => Chflags.ClearRecursive(root, "../other"));
    }

    [Fact]
    public void Strips_a_restored_tree_and_a_second_run_changes_nothing()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            return; // chown 0:0 needs root; CI runs as root.
        }

        var bin = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        var chflagsLog = Path.Combine(_dir, "chflags.log");
        File.WriteAllText(Path.Combine(bin, "chflags"), $"#!/bin/sh\necho \"$@\" >> {chflagsLog}\n");
        TempDir.MakeExecutable(Path.Combine(bin, "chflags"));

        var root = JailRoot.Create(Path.Combine(_dir, "jails"), "servera");
        foreach (var f in new[] { "usr/src/sys/kern/x.c", "usr/ports/www/apache/Makefile", "usr/obj/usr/src/bin/ls", "boot/loader", "kernel", "kernel.old/kernel", "dev/ad0s1a", "etc/rc.conf", "usr/local/www/index.html", "usr/local/src/keep.c", "kernels-notes/keep" })
        {
            var path = root.Combine(f);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, f);
        }

        // A symlink in the tree pointing outside must be removed as a link, never followed.
        var outside = Directory.CreateDirectory(Path.Combine(_dir, "outside")).FullName;
        File.WriteAllText(Path.Combine(outside, "precious"), "x");
        File.CreateSymbolicLink(root.Combine("boot/outside"), outside);

        // restoresymtable left by restore -r in the partitions' directories (a skipped cutover delta); another file of that name elsewhere stays.
        File.WriteAllText(root.Combine("restoresymtable"), "symtab");
        File.WriteAllText(root.Combine("usr/restoresymtable"), "symtab");
        File.WriteAllText(root.Combine("usr/local/www/restoresymtable"), "a page");
        var cmd = Strip.Command(root, [".", "usr"]);
        for (var run = 0; run < 2; run++)
        {
            var (status, _, stderr) = ShellRunner.Run(cmd, bin);
            Assert.True(status == 0, $"run {run}: {stderr}");
            Assert.False(Directory.Exists(root.Combine("usr/src")));
            Assert.False(Directory.Exists(root.Combine("usr/obj")));
            Assert.False(Directory.Exists(root.Combine("boot")));
            Assert.False(File.Exists(root.Combine("kernel")));
            Assert.False(Directory.Exists(root.Combine("kernel.old")));
            Assert.Empty(Directory.GetFileSystemEntries(root.Combine("usr/ports")));
            Assert.Empty(Directory.GetFileSystemEntries(root.Combine("dev")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(root.Combine("dev")));
            Assert.True(File.Exists(root.Combine("etc/rc.conf")));
            Assert.True(File.Exists(root.Combine("usr/local/www/index.html")));
            Assert.True(File.Exists(root.Combine("usr/local/src/keep.c")));
            Assert.False(Directory.Exists(root.Combine("kernels-notes"))); // kernel* is a glob, as FREEBSD.md says
            Assert.True(File.Exists(Path.Combine(outside, "precious")));
            Assert.False(File.Exists(root.Combine("restoresymtable")));
            Assert.False(File.Exists(root.Combine("usr/restoresymtable")));
            Assert.True(File.Exists(root.Combine("usr/local/www/restoresymtable")));
        }

        Assert.Contains($"-R noschg,nouchg,nosappnd,nouappnd,nosunlnk,nouunlnk {root.Path}/usr/src", File.ReadAllText(chflagsLog), StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_when_usr_is_a_symlink()
    {
        var bin = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        File.WriteAllText(Path.Combine(bin, "chflags"), "#!/bin/sh\nexit 0\n");
        TempDir.MakeExecutable(Path.Combine(bin, "chflags"));
        var root = JailRoot.Create(Path.Combine(_dir, "jails"), "servera");
        Directory.CreateDirectory(root.Path);
        var outside = Directory.CreateDirectory(Path.Combine(_dir, "hostusr", "src")).FullName;
        File.WriteAllText(Path.Combine(outside, "precious"), "x");
        File.CreateSymbolicLink(root.Combine("usr"), Path.Combine(_dir, "hostusr"));
        var (status, _, _) = ShellRunner.Run(Strip.Command(root), bin);
        Assert.NotEqual(0, status);
        Assert.True(File.Exists(Path.Combine(outside, "precious")));
    }
}
