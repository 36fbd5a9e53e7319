using JailWorkflows.Plans;
using JailWorkflows.Tests.FreeBsd;

namespace JailWorkflows.Tests.Plans;

public class PlanLoaderTests
{
    private static readonly string Valid = $"""
        jailHost:
          name: jh
          ssh: local
          jailsDir: /data/jails
          transferKeyFile: /root/.ssh/transfer
          buildJobs: 4
        servers:
          - name: ServerA
            release: 4.10-RELEASE
            ssh:
              address: 127.0.10.1
              port: 2222
              keyFile: /root/.ssh/a
              hostKey: {KnownHostsTests.Rsa}
              legacySsh: true
            partitions:
              - mountPoint: /usr
                device: /dev/ad0s1f
              - mountPoint: /
                device: /dev/ad0s1a
              - mountPoint: /usr/local
            jail:
              name: servera
              hostname: servera.example.org
              ip: 127.0.20.1
          - name: ServerB
            ssh:
              address: serverb.example.org
              user: admin
              keyFile: /root/.ssh/b
              hostKey: {KnownHostsTests.Ed25519} root@serverb
            partitions:
              - mountPoint: /
            jail:
              name: serverb
              hostname: serverb
              ip: 127.0.20.2
        """;

    private static IReadOnlyList<PlanError> Errors(string yaml) =>
        Assert.Throws<PlanValidationException>(() => PlanLoader.Parse(yaml)).Errors;

    private static void HasError(string yaml, string field, string messagePart)
    {
        var errors = Errors(yaml);
        Assert.True(
            errors.Any(e => e.Field == field && e.Message.Contains(messagePart, StringComparison.Ordinal)),
            $"expected {field}: …{messagePart}…, got:\n" + string.Join('\n', errors));
    }

    [Fact]
    public void Loads_a_valid_plan_with_defaults()
    {
        var plan = PlanLoader.Parse(Valid);
        Assert.Equal("jh", plan.JailHost.Name);
        Assert.Null(plan.JailHost.Ssh);
        Assert.Equal("/usr/src", plan.JailHost.SrcDir);
        Assert.Equal(4, plan.JailHost.BuildJobs);
        var a = plan.Server("ServerA");
        Assert.Equal(2222, a.Ssh.Port);
        Assert.Equal("root", a.Ssh.User);
        Assert.True(a.Ssh.LegacySsh);
        Assert.Equal("4.10-RELEASE", a.Release);
        Assert.Equal(["/", "/usr", "/usr/local"], a.Partitions.Select(p => p.MountPoint));
        Assert.Equal("/dev/ad0s1a", a.Partitions[0].Device);
        Assert.Equal(new JailSpec { Name = "servera", Hostname = "servera.example.org", Ip = "127.0.20.1" }, a.Jail);
        var b = plan.Server("ServerB");
        Assert.Equal(22, b.Ssh.Port);
        Assert.Equal("admin", b.Ssh.User);
        Assert.False(b.Ssh.LegacySsh);
        Assert.Equal(KnownHostsTests.Ed25519, b.Ssh.HostKey); // comment dropped
        Assert.Null(b.Release);
    }

    [Fact]
    public void JailHost_local_takes_every_default()
    {
        var plan = PlanLoader.Parse(Valid.Replace("jailHost:\n  name: jh\n  ssh: local\n  jailsDir: /data/jails\n  transferKeyFile: /root/.ssh/transfer\n  buildJobs: 4\n", "jailHost: local\n", StringComparison.Ordinal));
        Assert.Null(plan.JailHost.Ssh);
        Assert.Equal("/data/jails", plan.JailHost.JailsDir);
        Assert.Equal("/var/db/jailwf/transfer_key", plan.JailHost.TransferKeyFile);
    }

    [Fact]
    public void Remote_jail_host()
    {
        var plan = PlanLoader.Parse(Valid.Replace("  ssh: local\n", $"  ssh:\n    address: 127.0.1.1\n    keyFile: /k\n    hostKey: {KnownHostsTests.Ed25519}\n", StringComparison.Ordinal));
        Assert.Equal("127.0.1.1", plan.JailHost.Ssh!.Address);
    }

    [Fact]
    public void The_example_plan_is_valid()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "workflows/plans/example.yaml")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
        var plan = PlanLoader.Load(Path.Combine(dir.FullName, "workflows/plans/example.yaml"));
        Assert.Equal(2, plan.Servers.Count);
        Assert.True(plan.Server("ServerA").Ssh.LegacySsh);
    }

    [Fact]
    public void Cutover_is_off_unless_a_server_asks_for_it_and_round_trips()
    {
        var plan = PlanLoader.Parse(Valid.Replace("    jail:\n      name: servera\n", "    cutover: true\n    jail:\n      name: servera\n", StringComparison.Ordinal));
        Assert.True(plan.Server("ServerA").Cutover);
        Assert.False(plan.Server("ServerB").Cutover);
        var yaml = PlanWriter.ToYaml(plan);
        Assert.Single(yaml.Split('\n'), l => l.Trim() == "cutover: true");
        var again = PlanLoader.Parse(yaml);
        Assert.True(again.Server("ServerA").Cutover);
        Assert.False(again.Server("ServerB").Cutover);
        Assert.True(PlanLoader.Load(ExamplePlan()).Server("ServerA").Cutover);
    }

    [Fact]
    public void Cutover_must_be_true_or_false()
    {
        HasError(Valid.Replace("    jail:\n      name: servera\n", "    cutover: soon\n    jail:\n      name: servera\n", StringComparison.Ordinal), "servers[0].cutover", "soon");
        HasError(Valid.Replace("    jail:\n      name: serverb\n", "    cutover: [yes]\n    jail:\n      name: serverb\n", StringComparison.Ordinal), "servers[1].cutover", string.Empty);
    }

    private static string ExamplePlan()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "workflows/plans/example.yaml")))
        {
            dir = dir.Parent;
        }

        return Path.Combine(dir!.FullName, "workflows/plans/example.yaml");
    }

    [Fact]
    public void Round_trips_through_the_writer()
    {
        var plan = PlanLoader.Parse(Valid);
        var yaml = PlanWriter.ToYaml(plan);
        var again = PlanLoader.Parse(yaml);
        Assert.Equal(plan.JailHost, again.JailHost);
        Assert.Equal(plan.Servers.Count, again.Servers.Count);
        for (var i = 0; i < plan.Servers.Count; i++)
        {
            Assert.Equal(plan.Servers[i] with { Partitions = [] }, again.Servers[i] with { Partitions = [] });
            Assert.Equal(plan.Servers[i].Partitions, again.Servers[i].Partitions);
        }

        Assert.Equal(yaml, PlanWriter.ToYaml(again));
    }

    [Fact]
    public void Round_trips_awkward_values()
    {
        var plan = new Plan
        {
            JailHost = new JailHostSpec { TransferKeyFile = "/k", Ssh = new SshEndpoint { Address = "127.0.1.1", KeyFile = "/k2", HostKey = KnownHostsTests.Ed25519 } },
            Servers = [new SourceServerSpec
            {
                Name = "true", Release = "6.2-RELEASE-p6",
                Ssh = new SshEndpoint { Address = "127.0.0.10", KeyFile = "/1.0", HostKey = KnownHostsTests.Rsa, Port = 22022, LegacySsh = true },
                Partitions = [new PartitionSpec { MountPoint = "/" }],
                Jail = new JailSpec { Name = "null", Hostname = "yes", Ip = "127.0.20.9" },
            }],
        };
        var again = PlanLoader.Parse(PlanWriter.ToYaml(plan));
        Assert.Equal(plan.JailHost, again.JailHost);
        Assert.Equal(plan.Servers[0] with { Partitions = [] }, again.Servers[0] with { Partitions = [] });
    }

    [Fact]
    public void Missing_fields_are_named()
    {
        HasError(Valid.Replace("      name: servera\n", string.Empty, StringComparison.Ordinal), "servers[0].jail.name", "missing");
        HasError(Valid.Replace("      hostKey: " + KnownHostsTests.Rsa + "\n", string.Empty, StringComparison.Ordinal), "servers[0].ssh.hostKey", "missing");
        HasError("servers: []\n", "jailHost", "missing");
        HasError("jailHost: local\nservers: []\n", "servers", "empty");
        HasError("", "servers", "missing");
    }

    [Fact]
    public void Wrong_types_are_named()
    {
        HasError(Valid.Replace("port: 2222", "port: abc", StringComparison.Ordinal), "servers[0].ssh.port", "'abc' is not an integer");
        HasError(Valid.Replace("port: 2222", "port: 70000", StringComparison.Ordinal), "servers[0].ssh.port", "not between 1 and 65535");
        HasError(Valid.Replace("legacySsh: true", "legacySsh: perhaps", StringComparison.Ordinal), "servers[0].ssh.legacySsh", "not a boolean");
        HasError(Valid.Replace("buildJobs: 4", "buildJobs: [4]", StringComparison.Ordinal), "jailHost.buildJobs", "expected an integer");
        HasError(Valid.Replace("      name: servera\n", "      name: [a, b]\n", StringComparison.Ordinal), "servers[0].jail.name", "expected a text value");
        HasError("jailHost: local\nservers: {a: 1}\n", "servers", "expected a list");
    }

    [Fact]
    public void Bad_values_are_named()
    {
        HasError(Valid.Replace("ip: 127.0.20.2", "ip: 10.0.0.300", StringComparison.Ordinal), "servers[1].jail.ip", "'10.0.0.300' is not an IPv4 address");
        HasError(Valid.Replace("address: 127.0.10.1", "address: 127.0.10.1;reboot", StringComparison.Ordinal), "servers[0].ssh.address", "neither an IPv4 address nor a host name");
        HasError(Valid.Replace("address: serverb.example.org", "address: \"$(reboot)\"", StringComparison.Ordinal), "servers[1].ssh.address", "neither");
        HasError(Valid.Replace("address: 127.0.10.1", "address: -oProxyCommand=x", StringComparison.Ordinal), "servers[0].ssh.address", "neither");
        HasError(Valid.Replace("hostname: serverb\n", "hostname: \"b b\"\n", StringComparison.Ordinal), "servers[1].jail.hostname", "not a host name");
        HasError(Valid.Replace("release: 4.10-RELEASE", "release: FreeBSD 4.10", StringComparison.Ordinal), "servers[0].release", "not a FreeBSD release");
        HasError(Valid.Replace("name: servera", "name: server.a", StringComparison.Ordinal), "servers[0].jail.name", "not a valid jail name");
        HasError(Valid.Replace("user: admin", "user: -oX", StringComparison.Ordinal), "servers[1].ssh.user", "not a user name");
        HasError(Valid.Replace("hostKey: " + KnownHostsTests.Rsa, "hostKey: ssh-rsa QUJD", StringComparison.Ordinal), "servers[0].ssh.hostKey", "not a 'ssh-rsa' public key");
        HasError(Valid.Replace("hostKey: " + KnownHostsTests.Rsa, "hostKey: AAAA", StringComparison.Ordinal), "servers[0].ssh.hostKey", "<type> <base64>");
    }

    [Fact]
    public void Paths_must_be_absolute_and_safe()
    {
        HasError(Valid.Replace("jailsDir: /data/jails", "jailsDir: data/jails", StringComparison.Ordinal), "jailHost.jailsDir", "not an absolute path");
        HasError(Valid.Replace("jailsDir: /data/jails", "jailsDir: /", StringComparison.Ordinal), "jailHost.jailsDir", "cannot be '/'");
        HasError(Valid.Replace("jailsDir: /data/jails", "jailsDir: /data/../etc", StringComparison.Ordinal), "jailHost.jailsDir", "safe characters");
        HasError(Valid.Replace("jailsDir: /data/jails", "jailsDir: \"/data/my jails\"", StringComparison.Ordinal), "jailHost.jailsDir", "safe characters");
        HasError(Valid.Replace("transferKeyFile: /root/.ssh/transfer", "transferKeyFile: ~/.ssh/x", StringComparison.Ordinal), "jailHost.transferKeyFile", "not an absolute path");
        HasError(Valid.Replace("keyFile: /root/.ssh/a", "keyFile: id_rsa", StringComparison.Ordinal), "servers[0].ssh.keyFile", "not an absolute path");
        HasError(Valid.Replace("mountPoint: /usr/local", "mountPoint: usr/local", StringComparison.Ordinal), "servers[0].partitions[2].mountPoint", "not an absolute path");
        HasError(Valid.Replace("mountPoint: /usr/local", "mountPoint: /usr/$(x)", StringComparison.Ordinal), "servers[0].partitions[2].mountPoint", "safe characters");
    }

    [Fact]
    public void Jail_host_directories_may_not_overlap_a_jail_root()
    {
        // jailsDir /usr and a jail named "src": restoring into that jail root would wipe the host's /usr/src.
        var src = Valid.Replace("jailsDir: /data/jails", "jailsDir: /usr", StringComparison.Ordinal).Replace("name: servera\n", "name: src\n", StringComparison.Ordinal);
        HasError(src, "jailHost.srcDir", "overlaps the jail root /usr/src of servers[0]");

        // A host directory inside the jails directory, or containing a jail root.
        HasError(Valid.Replace("jailsDir: /data/jails", "jailsDir: /data/jails\n  jobsDir: /data/jails/.jobs", StringComparison.Ordinal), "jailHost.jobsDir", "inside the jails directory");
        HasError(Valid.Replace("jailsDir: /data/jails", "jailsDir: /var/db/jailwf/jails", StringComparison.Ordinal), "jailHost.stateDir", "overlaps the jail root /var/db/jailwf/jails/servera");
        _ = PlanLoader.Parse(Valid);
    }

    [Fact]
    public void Partitions_need_root_and_unique_mount_points()
    {
        HasError(Valid.Replace("      - mountPoint: /\n", "      - mountPoint: /var\n", StringComparison.Ordinal).Replace("  - mountPoint: /\n        device", "  - mountPoint: /tmp\n        device", StringComparison.Ordinal), "servers[1].partitions", "no '/' partition");
        HasError(Valid.Replace("mountPoint: /usr/local", "mountPoint: /usr/", StringComparison.Ordinal), "servers[0].partitions[2].mountPoint", "'/usr' is a duplicate (also servers[0].partitions[0])");
        HasError(Valid.Replace("    partitions:\n      - mountPoint: /\n    jail:", "    partitions: []\n    jail:", StringComparison.Ordinal), "servers[1].partitions", "empty");
    }

    [Fact]
    public void Duplicates_are_named()
    {
        HasError(Valid.Replace("name: ServerB", "name: servera", StringComparison.Ordinal), "servers[1].name", "duplicate (also servers[0].name)");
        HasError(Valid.Replace("name: serverb\n", "name: servera\n", StringComparison.Ordinal), "servers[1].jail.name", "duplicate");
        HasError(Valid.Replace("ip: 127.0.20.2", "ip: 127.0.20.1", StringComparison.Ordinal), "servers[1].jail.ip", "'127.0.20.1' is a duplicate");
    }

    [Fact]
    public void Unknown_fields_are_errors()
    {
        HasError(Valid.Replace("port: 2222", "prot: 2222", StringComparison.Ordinal), "servers[0].ssh.prot", "unknown field");
        HasError(Valid.Replace("buildJobs: 4", "buildjobs: 4", StringComparison.Ordinal), "jailHost.buildjobs", "did you mean 'buildJobs'");
        HasError(Valid + "\nextra: 1\n", "extra", "unknown field");
    }

    [Fact]
    public void Collects_all_errors_at_once()
    {
        var yaml = Valid.Replace("port: 2222", "port: abc", StringComparison.Ordinal)
            .Replace("ip: 127.0.20.2", "ip: 10.0.0.300", StringComparison.Ordinal)
            .Replace("jailsDir: /data/jails", "jailsDir: relative", StringComparison.Ordinal)
            .Replace("legacySsh: true", "legacySsh: true\n      colour: blue", StringComparison.Ordinal);
        var e = Assert.Throws<PlanValidationException>(() => PlanLoader.Parse(yaml, "plan.yaml"));
        Assert.Equal(
            ["jailHost.jailsDir", "servers[0].ssh.colour", "servers[0].ssh.port", "servers[1].jail.ip"],
            e.Errors.Select(x => x.Field).Order(StringComparer.Ordinal));
        Assert.Contains("servers[1].jail.ip: '10.0.0.300' is not an IPv4 address", e.Message, StringComparison.Ordinal);
        Assert.Contains("plan.yaml", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Broken_yaml_is_one_error_with_a_position()
    {
        var errors = Errors("jailHost: [\n");
        Assert.Single(errors);
        Assert.Equal("(yaml)", errors[0].Field);
        Assert.Contains("line", errors[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_keys_are_an_error() =>
        Assert.NotEmpty(Errors(Valid.Replace("  buildJobs: 4\n", "  buildJobs: 4\n  buildJobs: 5\n", StringComparison.Ordinal)));
}
