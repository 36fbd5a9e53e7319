using JailWorkflows.FreeBsd;

namespace JailWorkflows.Tests.FreeBsd;

/// <summary>The parsers and decisions behind Preflight, StartJail/StopJail and VerifyJail.</summary>
public class ChecksTests
{
    private static readonly JailRoot Root = JailRoot.Create("/data/jails", "servera");

    [Fact]
    public void Df_reads_the_4x_and_the_modern_format_and_keeps_blanks_in_mount_points()
    {
        var rows = Df.Parse(
            "Filesystem  1K-blocks     Used    Avail Capacity  Mounted on\n" +
            "/dev/ad0s1a    63503    38574    19849    66%    /\n" +
            "/dev/ad0s1f  4065262  2811210   928832    75%    /usr\n");
        Assert.Equal([new DfEntry("/dev/ad0s1a", 63503, 38574, 19849, 66, "/"), new DfEntry("/dev/ad0s1f", 4065262, 2811210, 928832, 75, "/usr")], rows);

        var modern = Df.Parse(
            "Filesystem         1024-blocks      Used     Avail Capacity  Mounted on\n" +
            "zroot/data            10000       100     -20     101%  /data/my jails\n");
        Assert.Equal(new DfEntry("zroot/data", 10000, 100, -20, 101, "/data/my jails"), Assert.Single(modern));

        Assert.Throws<FormatException>(() => Df.Parse("Filesystem 1K-blocks\n/dev/ad0s1a lots of space\n"));

        // df -k a || df -k b: the failed first run printed its header too.
        var twice = Df.Parse(
            "Filesystem  1024-blocks     Used    Avail Capacity  Mounted on\n" +
            "Filesystem  1024-blocks     Used    Avail Capacity  Mounted on\n" +
            "/dev/ada0p2    63503    38574    19849    66%    /\n");
        Assert.Equal("/", Assert.Single(twice).MountedOn);
    }

    [Fact]
    public void Df_commands_walk_up_to_an_existing_ancestor()
    {
        Assert.Equal("df -k / /usr", Df.Command("/", "/usr").Text);
        Assert.Equal(
            "df -k /data/jails 2> /dev/null || df -k /data 2> /dev/null || df -k /",
            Df.KilobytesOfNearestExisting("/data/jails/").Text);
        Assert.Throws<ArgumentException>(() => Df.Command("usr"));
        Assert.Throws<ArgumentException>(() => Df.KilobytesOfNearestExisting("/data/../etc"));
    }

    [Fact]
    public void Ifconfig_lists_every_ipv4_address_with_its_interface_aliases_included()
    {
        const string output =
            "em0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500\n" +
            "\toptions=9b<RXCSUM,TXCSUM,VLAN_MTU>\n" +
            "\tinet 10.0.0.2 netmask 0xffffff00 broadcast 10.0.0.255\n" +
            "\tinet 10.0.0.5 netmask 0xffffffff broadcast 10.0.0.5\n" +
            "\tinet6 fe80::1%em0 prefixlen 64 scopeid 0x1\n" +
            "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> metric 0 mtu 16384\n" +
            "\tinet 127.0.0.1 netmask 0xff000000\n";
        Assert.Equal(
            [new InterfaceAddress("em0", "10.0.0.2"), new InterfaceAddress("em0", "10.0.0.5"), new InterfaceAddress("lo0", "127.0.0.1")],
            Ifconfig.ParseIPv4(output));
    }

    [Fact]
    public void Sockstat_rows_give_the_bound_address_and_port()
    {
        var rows = Sockstat.Parse(
            "USER     COMMAND    PID   FD PROTO  LOCAL ADDRESS         FOREIGN ADDRESS\n" +
            "www      httpd      1234  3  tcp4   10.0.0.5:80           *:*\n" +
            "root     sshd       800   4  tcp4   *:22                  *:*\n" +
            "?        ?          ?     ?  udp4   *:514                 *:*\n");
        Assert.Equal(
            [new SocketListing("www", "httpd", 1234, "tcp4", "10.0.0.5", 80), new SocketListing("root", "sshd", 800, "tcp4", "*", 22)],
            rows);
    }

    [Fact]
    public void Ps_program_names_from_freebsd_and_busybox_columns()
    {
        Assert.Equal(
            ["init", "httpd", "nginx", "sh"],
            Ps.ProgramNames(
                "  PID TT  STAT    TIME COMMAND\n" +
                "    1  -  ILs  0:00.01 /sbin/init --\n" +
                "  812  -  Ss   0:00.20 /usr/local/sbin/httpd -DSSL\n" +
                "  900  -  Ss   0:00.00 nginx: master process /usr/local/sbin/nginx\n" +
                "  901 v0  Is+  0:00.00 -sh (sh)\n"));
        Assert.Equal(
            ["bash", "httpd", "ps"],
            Ps.ProgramNames("PID   USER     COMMAND\n    1 root     /bin/bash /libexec/jail-init\n   12 root     /usr/sbin/httpd -f -v -p 127.0.20.1:80\n   40 root     ps ax\n"));
        Assert.Throws<FormatException>(() => Ps.ProgramNames("no header here\n"));
    }

    [Fact]
    public void Enabled_services_follow_checkyesno_the_last_assignment_and_leave_host_only_ones_out()
    {
        const string rcConf =
            "hostname=\"ServerA.example.org\"\n" +
            "ifconfig_fxp0=\"inet 10.11.12.13 netmask 255.255.255.0\"\n" +
            "firewall_enable=\"YES\"\n" +
            "ntpd_enable=\"YES\"\n" +
            "sshd_enable=\"YES\"\n" +
            "sendmail_enable=\"NONE\"\n" +
            "inetd_enable=\"NO\"\n" +
            "apache_enable=YES\n" +
            "apache_flags=\"-DSSL\"\n" +
            "samba_enable=\"yes\"   # file server\n" +
            "mysql_enable=\"YES\"\n" +
            "# nginx_enable=\"YES\"\n" +
            "mysql_enable=\"NO\"\n";
        Assert.Equal(["sshd", "apache", "samba"], JailServices.Enabled(rcConf));
    }

    [Fact]
    public void Service_profiles_know_web_servers_and_fall_back_to_the_service_name()
    {
        var apache = JailServices.Profile("apache");
        Assert.True(apache.IsWebServer);
        Assert.Equal(["httpd"], apache.ProcessNames);
        Assert.Equal([80], apache.TcpPorts);
        Assert.True(JailServices.Profile("apache13").IsWebServer);
        Assert.True(JailServices.Profile("nginx").IsWebServer);
        Assert.True(JailServices.Profile("lighttpd").IsWebServer);
        Assert.False(JailServices.Profile("sshd").IsWebServer);
        Assert.Equal([22], JailServices.Profile("sshd").TcpPorts);
        var unknown = JailServices.Profile("squid");
        Assert.Equal(["squid"], unknown.ProcessNames);
        Assert.Empty(unknown.TcpPorts);
        Assert.False(unknown.IsWebServer);
        Assert.Equal(
            ["/data/jails/servera/etc/rc.d/apache", "/data/jails/servera/usr/local/etc/rc.d/apache", "/data/jails/servera/usr/local/etc/rc.d/apache.sh"],
            JailServices.ScriptCandidates(Root, "apache"));
        Assert.Throws<ArgumentException>(() => JailServices.ScriptCandidates(Root, "../../bin/sh"));
    }

    [Fact]
    public void Required_space_is_the_used_size_plus_the_margin_rounded_up()
    {
        Assert.Equal(110, PreflightRules.RequiredKilobytes([60, 40], 10));
        Assert.Equal(12, PreflightRules.RequiredKilobytes([11], 1));
        Assert.Equal(0, PreflightRules.RequiredKilobytes([], 10));
        Assert.Equal(100, PreflightRules.RequiredKilobytes([100], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => PreflightRules.RequiredKilobytes([1], -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PreflightRules.RequiredKilobytes([-1], 10));
    }

    [Theory]
    [InlineData("14.1-RELEASE", "14.1-RELEASE", false)]
    [InlineData("14.1-RELEASE-p5", "14.1-RELEASE", false)]
    [InlineData("14.0-RELEASE", "14.1-RELEASE-p2", false)]
    [InlineData("13.3-RELEASE", "14.1-RELEASE", false)]
    [InlineData("14.2-RELEASE", "14.1-RELEASE", true)]
    [InlineData("15.0-CURRENT", "14.1-STABLE", true)]
    [InlineData("14.1-STABLE", "14.1-RELEASE", false)]
    public void A_world_is_newer_than_the_kernel_only_by_major_or_minor_release(string world, string kernel, bool newer) =>
        Assert.Equal(newer, PreflightRules.WorldIsNewerThanKernel(FreeBsdRelease.Parse(world), FreeBsdRelease.Parse(kernel)));

    [Theory]
    [InlineData(-1, true)]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(3, false)]
    public void Installworld_needs_securelevel_0_or_below(int level, bool allowed) =>
        Assert.Equal(allowed, PreflightRules.SecurelevelAllowsInstall(level));

    [Fact]
    public void A_jail_root_is_free_when_absent_or_empty_and_a_non_empty_one_only_for_its_owner()
    {
        Assert.True(PreflightRules.JudgeJailRoot(false, false, [], null, "i1").Acceptable);
        Assert.True(PreflightRules.JudgeJailRoot(true, true, [], null, "i1").Acceptable);
        Assert.True(PreflightRules.JudgeJailRoot(true, true, ["etc", "usr"], "i1\n", "i1").Acceptable);

        var foreign = PreflightRules.JudgeJailRoot(true, true, ["etc", "usr"], null, "i1");
        Assert.False(foreign.Acceptable);
        Assert.Contains("owned by no instance", foreign.Reason, StringComparison.Ordinal);
        Assert.Contains("etc", foreign.Reason, StringComparison.Ordinal);

        var other = PreflightRules.JudgeJailRoot(true, true, [], "i0", "i1");
        Assert.False(other.Acceptable);
        Assert.Contains("i0", other.Reason, StringComparison.Ordinal);

        Assert.False(PreflightRules.JudgeJailRoot(true, false, [], null, "i1").Acceptable);
    }

    [Fact]
    public void The_jail_ip_is_held_by_an_interface_or_another_jail_but_not_by_the_jail_itself()
    {
        InterfaceAddress[] configured = [new("em0", "10.0.0.2"), new("lo0", "10.0.0.5")];
        JailListing[] running = [new(3, "10.0.0.5", "other.example.org", "/data/jails/other")];
        var holders = PreflightRules.IpHolders("10.0.0.5", configured, running, Root);
        Assert.Equal(2, holders.Count);
        Assert.Contains("lo0", holders[0], StringComparison.Ordinal);
        Assert.Contains("/data/jails/other", holders[1], StringComparison.Ordinal);

        Assert.Empty(PreflightRules.IpHolders("10.0.0.9", configured, running, Root));
        Assert.Empty(PreflightRules.IpHolders("10.0.0.7", [new("lo0", "10.0.0.7")], [new(4, "10.0.0.7", "servera", Root.Path)], Root));
    }

    [Fact]
    public void Rc_jail_commands_and_the_config_probe()
    {
        Assert.Equal("service jail start servera", RcdJail.Start("servera").Text);
        Assert.Equal("service jail stop servera", RcdJail.Stop("servera").Text);
        Assert.Equal("service jail oneconfig servera", RcdJail.Config("servera").Text);
        Assert.Throws<ArgumentException>(() => RcdJail.Start("a;b"));
        Assert.Equal("/etc/jail.conf.d/servera.conf", RcdJail.ParseConfig("servera: parameters are in /etc/jail.conf.d/servera.conf.\n", "servera"));
        Assert.Null(RcdJail.ParseConfig("serverb: parameters are in /etc/jail.conf.\n", "servera"));
        Assert.Null(RcdJail.ParseConfig(string.Empty, "servera"));
    }
}
