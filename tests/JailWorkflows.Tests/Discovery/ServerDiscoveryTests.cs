using JailWorkflows.FreeBsd;
using JailWorkflows.Plans;
using JailWorkflows.Tests.Lab;

namespace JailWorkflows.Tests.Discovery;

public sealed class ServerDiscoveryTests
{
    private const string RsaKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC+3hYbxKtmESmmYKIgdpwoTw/VwirH3b15Vvy47xgvkVWlu8RTnufR19o1Ngm1yJy/P+EYFeD/8t6Gw1D6Y/sysknB54LxmMfrWx/wO1ZSzYxrI7VlKtKbIVOwzKxVTBbul7zRQuHqWjRrzleTbcoPXYYzJhFxGx/aJmfOFfHKuw==";

    private const string RcConf =
        "# -- sysinstall generated deltas -- # Mon Jun 14 10:22:31 2004\n" +
        "hostname=\"ServerA.example.org\"\n" +
        "ifconfig_fxp0=\"inet 10.11.12.13  netmask 255.255.255.0\"\n" +
        "firewall_enable=\"YES\"\n" +
        "moused_enable=\"NO\"\n" +
        "ntpd_enable=\"YES\"\n" +
        "sshd_enable=\"YES\"\n" +
        "sendmail_enable=\"NONE\"\n" +
        "inetd_enable=\"NO\"\n" +
        "apache_enable=\"YES\"\n" +
        "apache_flags=\"-DSSL\"\n" +
        "samba_enable=YES\n" +
        "samba_enable=\"NO\"   # switched off again\n";

    private static ServerInventory Inventory(string hostname = "ServerA.example.org", string? rcConf = RcConf) => new()
    {
        Ssh = new SshEndpoint { Address = "192.0.2.10", KeyFile = "/root/.ssh/id_rsa", HostKey = RsaKey, LegacySsh = true },
        ServerVersion = "SSH-1.99-OpenSSH_3.8.1p1 FreeBSD-20040419",
        Release = FreeBsdRelease.Parse("4.10-RELEASE-p3"),
        Hostname = hostname,
        Mounts = MountP.Parse(
            "/dev/ad0s1a\t\t/\t\tufs\trw\t\t1 1\n" +
            "/dev/ad0s1f\t\t/usr\t\tufs\trw\t\t2 2\n" +
            "/dev/ad0s1e\t\t/var\t\tufs\trw\t\t2 2\n" +
            "procfs\t\t\t/proc\t\tprocfs\trw\t\t0 0\n" +
            "/dev/md0\t\t/tmp\t\tufs\trw,nosuid\t0 0\n"),
        DiskUsage = Df.Parse(
            "Filesystem  1K-blocks    Used   Avail Capacity  Mounted on\n" +
            "/dev/ad0s1a    126702   45366   71200    39%    /\n" +
            "/dev/ad0s1f   7621014 2345678 4665655    33%    /usr\n" +
            "/dev/ad0s1e    253678   24500  208884    10%    /var\n"),
        Interfaces = Ifconfig.Parse(
            "fxp0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n" +
            "\tinet 192.0.2.10 netmask 0xffffff00 broadcast 192.0.2.255\n" +
            "\tinet 192.0.2.16 netmask 0xffffffff broadcast 192.0.2.16\n" +
            "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384\n" +
            "\tinet 127.0.0.1 netmask 0xff000000 \n"),
        RcConf = rcConf,
        DiscoveredAt = new DateTimeOffset(2026, 11, 30, 2, 30, 0, TimeSpan.Zero),
    };

    [Fact]
    public void The_server_is_named_by_its_short_host_name_and_its_jail_defaults_to_lower_case_name_and_own_address()
    {
        var server = ServerDiscovery.ToServer(Inventory());

        Assert.Equal("ServerA", server.Name);
        Assert.Equal("4.10-RELEASE-p3", server.Release);
        Assert.Equal(new JailSpec { Name = "servera", Hostname = "ServerA.example.org", Ip = "192.0.2.10" }, server.Jail);
        Assert.Equal(["/", "/usr", "/var"], server.Partitions.Select(p => p.MountPoint));
        Assert.Equal("/dev/ad0s1f", server.Partitions[1].Device);
        Assert.True(server.Ssh.LegacySsh);
        Assert.Equal(RsaKey, server.Ssh.HostKey);
    }

    [Fact]
    public void Jail_name_and_ip_can_be_given()
    {
        var server = ServerDiscovery.ToServer(Inventory(), jailName: "web-old", jailIp: "127.0.20.9");

        Assert.Equal(("web-old", "127.0.20.9"), (server.Jail.Name, server.Jail.Ip));
    }

    [Theory]
    [InlineData("www.example.org", "www")]
    [InlineData("Mail_Host", "mail_host")]
    [InlineData("db1", "db1")]
    [InlineData("weird+name.example.org", "weird_name")]
    [InlineData("-", "jail")]
    public void Default_jail_names_are_valid_jail_names(string hostname, string jailName)
    {
        Assert.Equal(jailName, ServerDiscovery.DefaultJailName(hostname));
        _ = JailRoot.Create("/data/jails", ServerDiscovery.DefaultJailName(hostname));
    }

    [Fact]
    public void Bad_jail_name_or_ip_missing_address_or_missing_root_partition_are_refused()
    {
        Assert.Throws<ArgumentException>(() => ServerDiscovery.ToServer(Inventory(), jailName: "../etc"));
        Assert.Throws<ArgumentException>(() => ServerDiscovery.ToServer(Inventory(), jailIp: "10.0.0.300"));
        var noAddress = Inventory() with { Interfaces = Ifconfig.Parse("lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384\n\tinet 127.0.0.1 netmask 0xff000000\n") };
        Assert.Contains("--jail-ip", Assert.Throws<ArgumentException>(() => ServerDiscovery.ToServer(noAddress)).Message, StringComparison.Ordinal);
        Assert.Equal("10.1.1.1", ServerDiscovery.ToServer(noAddress, jailIp: "10.1.1.1").Jail.Ip);
        var noRoot = Inventory() with { Mounts = MountP.Parse("/dev/ad0s1f /usr ufs rw 2 2\n") };
        Assert.Throws<ArgumentException>(() => ServerDiscovery.ToServer(noRoot));
    }

    [Fact]
    public void The_plan_yaml_loads_as_the_plan_with_a_local_jail_host()
    {
        var yaml = ServerDiscovery.ToPlanYaml(Inventory());

        var loaded = PlanLoader.Parse(yaml);
        var expected = ServerDiscovery.ToPlan(Inventory());
        Assert.Null(loaded.JailHost.Ssh);
        Assert.Equal(expected.JailHost, loaded.JailHost);
        Assert.Equal("/var/db/jailwf/transfer_key", loaded.JailHost.TransferKeyFile);
        Assert.Equal(expected.Servers[0] with { Partitions = [] }, loaded.Servers[0] with { Partitions = [] });
        Assert.Equal(expected.Servers[0].Partitions, loaded.Servers[0].Partitions);
    }

    [Fact]
    public void The_plan_yaml_says_what_was_found_and_what_to_check()
    {
        var yaml = ServerDiscovery.ToPlanYaml(Inventory());
        var lines = yaml.Split('\n');

        Assert.StartsWith("# JailWorkflows plan written by 'jailwf discover root@192.0.2.10:22' at 2026-11-30 02:30:00 UTC.", yaml, StringComparison.Ordinal);
        Assert.Contains("NOT verified", yaml, StringComparison.Ordinal);
        Assert.Contains(SshHostFingerprint(RsaKey), yaml, StringComparison.Ordinal);
        Assert.Contains(ServerDiscovery.Md5Fingerprint(RsaKey), yaml, StringComparison.Ordinal);
        Assert.Contains("ssh-keygen -l -f /etc/ssh/ssh_host_rsa_key.pub", yaml, StringComparison.Ordinal);

        var services = Assert.Single(lines, l => l.Contains("Enabled services in /etc/rc.conf:", StringComparison.Ordinal));
        Assert.EndsWith("sshd, apache (they run in the jail; verify them after the start).", services, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Contains("Host-only, dropped from the jail's rc.conf: firewall, ntpd", StringComparison.Ordinal));
        Assert.DoesNotContain("samba", yaml, StringComparison.Ordinal);

        // Each partition's comment sits right above it; the jail host's comment above jailHost.
        var usr = Array.FindIndex(lines, l => l.TrimStart().StartsWith("- mountPoint: \"/usr\"", StringComparison.Ordinal));
        Assert.Equal("  # /usr on /dev/ad0s1f: 2345678 KiB used of 7621014 KiB (33%), 2.2 GiB to transfer", lines[usr - 1]);
        Assert.Contains("Not transferred (not UFS, or a memory disk): /proc (procfs), /tmp (ufs /dev/md0).", yaml, StringComparison.Ordinal);
        Assert.Contains("this server needs about 2.3 GiB there", yaml, StringComparison.Ordinal);
        var jailHost = Array.IndexOf(lines, "jailHost:");
        Assert.StartsWith("# FILL IN: the jail host.", lines[jailHost - 2], StringComparison.Ordinal);
        Assert.Equal(string.Empty, lines[Array.IndexOf(lines, "servers:") - 2]);
        Assert.Contains("fxp0 192.0.2.10/24, fxp0 192.0.2.16/32, lo0 127.0.0.1/8", yaml, StringComparison.Ordinal);
        Assert.Contains("legacySsh: true", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unreadable_rc_conf_is_said_in_the_plan()
    {
        var yaml = ServerDiscovery.ToPlanYaml(Inventory(rcConf: null));

        Assert.Contains("/etc/rc.conf could not be read", yaml, StringComparison.Ordinal);
        _ = PlanLoader.Parse(yaml);
    }

    [Theory]
    [InlineData("SSH-1.99-OpenSSH_3.5p1 FreeBSD-20030924", true)]
    [InlineData("SSH-2.0-OpenSSH_3.8.1p1 FreeBSD-20040419", true)]
    [InlineData("SSH-2.0-OpenSSH_2.3.0 FreeBSD localisations 20010713", true)]
    [InlineData("SSH-2.0-OpenSSH_4.2p1 FreeBSD-20050903", false)]
    [InlineData("SSH-2.0-OpenSSH_9.7 FreeBSD-20240318", false)]
    [InlineData("SSH-2.0-OpenSSH_10.0", false)]
    [InlineData("SSH-2.0-dropbear_2022.83", false)]
    [InlineData("", false)]
    public void OpenSSH_before_4_is_a_legacy_server(string version, bool legacy)
    {
        Assert.Equal(legacy, ServerDiscovery.IsLegacyOpenSsh(version));
    }

    [Fact]
    public async Task Fingerprints_are_those_ssh_keygen_prints()
    {
        var dir = Directory.CreateTempSubdirectory("jailwf-discover-fp-").FullName;
        try
        {
            var key = Path.Combine(dir, "k");
            var gen = await Local.RunAsync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", string.Empty, "-f", key]);
            Assert.True(gen.ExitCode == 0, gen.ToString());
            var pub = (await File.ReadAllTextAsync(key + ".pub")).Trim();
            var md5 = await Local.RunAsync("ssh-keygen", ["-l", "-E", "md5", "-f", key + ".pub"]);
            var sha = await Local.RunAsync("ssh-keygen", ["-l", "-E", "sha256", "-f", key + ".pub"]);

            Assert.Equal(md5.StdOut.Split(' ')[1], ServerDiscovery.Md5Fingerprint(pub));
            Assert.Contains(SshHostFingerprint(pub), ServerDiscovery.ToPlanYaml(Inventory() with { Ssh = Inventory().Ssh with { HostKey = pub } }), StringComparison.Ordinal);
            Assert.Equal(sha.StdOut.Split(' ')[1], SshHostFingerprint(pub));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Enabled_services_take_the_last_assignment_and_mark_host_only_ones()
    {
        Assert.Equal(
            [new RcConfService("firewall", true), new RcConfService("ntpd", true), new RcConfService("sshd", false), new RcConfService("apache", false)],
            JailWorkflows.FreeBsd.RcConf.EnabledServices(RcConf));
        Assert.Equal([new RcConfService("x", false)], JailWorkflows.FreeBsd.RcConf.EnabledServices("x_enable=\"yes\"\ny_enable=1x\nexport z_enable=NO\n_enable=YES\n"));
    }

    private static string SshHostFingerprint(string key) => JailWorkflows.Hosts.SshHost.Fingerprint(key);
}
