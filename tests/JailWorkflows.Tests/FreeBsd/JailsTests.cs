using JailWorkflows.FreeBsd;
using JailWorkflows.Plans;

namespace JailWorkflows.Tests.FreeBsd;

public class JailsTests
{
    private static readonly JailRoot Root = JailRoot.Create("/data/jails", "servera");
    private static readonly JailSpec Spec = new() { Name = "servera", Hostname = "servera.example.org", Ip = "127.0.20.1" };

    [Fact]
    public void Renders_a_jail_conf_block() =>
        Assert.Equal(
            "servera {\n\tpath = \"/data/jails/servera\";\n\thost.hostname = \"servera.example.org\";\n\tip4.addr = \"127.0.20.1\";\n"
            + "\texec.start = \"/bin/sh /etc/rc\";\n\texec.stop = \"/bin/sh /etc/rc.shutdown\";\n\tmount.devfs;\n\texec.clean;\n}\n",
            JailConf.Render(Spec, Root));

    [Fact]
    public void Refuses_what_jail_conf_would_misread()
    {
        Assert.Throws<ArgumentException>(() => JailConf.Render(Spec with { Hostname = "a\"; exec.start = \"/bin/rm" }, Root));
        Assert.Throws<ArgumentException>(() => JailConf.Render(Spec with { Hostname = "${name}" }, Root));
        Assert.Throws<ArgumentException>(() => JailConf.Render(Spec with { Ip = "127.0.0.1; persist" }, Root));
        Assert.Throws<ArgumentException>(() => JailConf.Render(Spec with { Name = "serverb" }, Root));
        Assert.Throws<ArgumentException>(() => JailConf.Quote("a$b"));
        Assert.Throws<ArgumentException>(() => JailConf.Quote("a\\b"));
        Assert.Throws<ArgumentException>(() => JailConf.Quote("a\nb"));
        Assert.Equal("\"a b;{}#'\"", JailConf.Quote("a b;{}#'"));
    }

    [Fact]
    public void Conf_file_path() => Assert.Equal("/etc/jail.conf.d/servera.conf", JailConf.FilePath("/etc/jail.conf.d/", Root));

    [Fact]
    public void Jail_commands()
    {
        Assert.Equal("jail -f /etc/jail.conf.d/servera.conf -c servera", Jail.Create("/etc/jail.conf.d/servera.conf", "servera").Text);
        Assert.Equal("jail -f /etc/jail.conf.d/servera.conf -r servera", Jail.Remove("/etc/jail.conf.d/servera.conf", "servera").Text);
        Assert.Equal("jls -j servera jid ip4.addr host.hostname path", Jls.ForJail("servera").Text);
        Assert.Equal("jls jid ip4.addr host.hostname path", Jls.All().Text);
        Assert.Throws<ArgumentException>(() => Jail.Create("jail.conf", "servera"));
        Assert.Throws<ArgumentException>(() => Jail.Create("/j.conf", "-r"));
        Assert.Throws<ArgumentException>(() => Jls.ForJail("a b"));
    }

    [Fact]
    public void Jexec_passes_arguments_verbatim()
    {
        var cmd = Jexec.Command("servera", ["/bin/sh", "-c", "echo \"$(hostname)\"; exit 3", "it's"]);
        Assert.Equal("jexec servera /bin/sh -c 'echo \"$(hostname)\"; exit 3' 'it'\\''s'", cmd.Text);
        Assert.Equal(["servera", "/bin/sh", "-c", "echo \"$(hostname)\"; exit 3", "it's"], ShellRunner.ArgvOf(cmd));
        Assert.Throws<ArgumentException>(() => Jexec.Command("servera", []));
    }

    [Fact]
    public void Parses_jls_default_output()
    {
        var output =
            "   JID  IP Address      Hostname                      Path\n"
            + "     1  127.0.20.1      servera.example.org           /data/jails/servera\n"
            + "    12                  webserver                     /jail/webserver\n"
            + "   103  -               test01.localnet               /jails/test01\n";
        Assert.Equal(
            [
                new JailListing(1, "127.0.20.1", "servera.example.org", "/data/jails/servera"),
                new JailListing(12, string.Empty, "webserver", "/jail/webserver"),
                new JailListing(103, string.Empty, "test01.localnet", "/jails/test01"),
            ],
            Jls.Parse(output));
    }

    [Fact]
    public void Parses_jls_parameter_output_with_whole_paths_and_the_first_of_several_addresses()
    {
        // The default columns cut the path at 74 characters; asked by parameter, jls prints it whole.
        var path = "/var/tmp/jailwf-lab-test/jailhost/e2e/a-long-consolidation-directory-name/jails/servera-e2e";
        Assert.True(path.Length > 74);
        Assert.Equal(
            [
                new JailListing(3, "127.0.20.1", "servera.example.org", path),
                new JailListing(4, string.Empty, "nonet", "/jails/nonet"),
            ],
            Jls.Parse($"3 127.0.20.1,127.0.20.2 servera.example.org {path}\n4 - nonet /jails/nonet\n"));
    }

    [Fact]
    public void Parses_rows_printed_with_the_exact_format()
    {
        // printf "%6d  %-15.15s %-29.29s %.74s\n": a 29-character hostname touches the path column.
        var host = new string('h', 29);
        var row = string.Format(System.Globalization.CultureInfo.InvariantCulture, "{0,6}  {1,-15} {2,-29} {3}", 7, "255.255.255.255", host, "/data/jails/x");
        Assert.Equal(new JailListing(7, "255.255.255.255", host, "/data/jails/x"), Assert.Single(Jls.Parse(row + "\n")));
    }

    [Fact]
    public void Empty_and_header_only_output_has_no_jails()
    {
        Assert.Empty(Jls.Parse(string.Empty));
        Assert.Empty(Jls.Parse("   JID  IP Address      Hostname                      Path\n"));
    }

    [Fact]
    public void Garbage_is_a_FormatException() =>
        Assert.Throws<FormatException>(() => Jls.Parse("jls: jail \"x\" not found\n"));

    [Fact]
    public void Not_found_is_recognised() => Assert.True(Jls.ReportsNotFound("jls: jail \"servera\" not found\n"));
}

public class MountPTests
{
    private const string Output =
        "/dev/ad0s1a\t/\tufs\trw\t1\t1\n"
        + "devfs\t/dev\tdevfs\trw\t0\t0\n"
        + "/dev/ad0s1e\t/var\tufs\trw,nosuid\t2\t2\n"
        + "/dev/ad0s1f\t/usr\tufs\trw\t2\t2\n"
        + "/dev/ad0s1g\t/usr/local\tufs\trw\t2\t2\n"
        + "/dev/md0\t/tmp\tufs\trw\t0\t0\n"
        + "procfs\t/proc\tprocfs\trw\n"
        + "server:/export\t/mnt/my\\040files\tnfs\tro\t0\t0\n";

    [Fact]
    public void Parses_fstab_format()
    {
        var entries = MountP.Parse(Output);
        Assert.Equal(8, entries.Count);
        Assert.Equal(new MountEntry("/dev/ad0s1a", "/", "ufs", "rw", 1, 1), entries[0]);
        Assert.Equal(new MountEntry("procfs", "/proc", "procfs", "rw", 0, 0), entries[6]);
        Assert.Equal("/mnt/my files", entries[7].MountPoint);
        Assert.Equal("mount -p", MountP.Command().Text);
    }

    [Fact]
    public void Keeps_ufs_partitions_parents_first_without_memory_disks()
    {
        Assert.Equal(["/", "/usr", "/var", "/usr/local"], MountP.UfsPartitions(MountP.Parse(Output)).Select(e => e.MountPoint));
        var parts = MountP.ToPartitions(MountP.Parse(Output));
        Assert.Equal(new PartitionSpec { MountPoint = "/usr", Device = "/dev/ad0s1f" }, parts[1]);
    }

    [Fact]
    public void Malformed_lines_are_a_FormatException()
    {
        Assert.Throws<FormatException>(() => MountP.Parse("/dev/ad0s1a /\n"));
        Assert.Throws<FormatException>(() => MountP.Parse("/dev/ad0s1a / ufs rw x 1\n"));
    }
}
