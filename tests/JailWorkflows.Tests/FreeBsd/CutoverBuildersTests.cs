using JailWorkflows.FreeBsd;
using JailWorkflows.Plans;

namespace JailWorkflows.Tests.FreeBsd;

/// <summary>The command builders of the cutover: the level-1 pipeline, the rc script stop, the wipe for a full pass.</summary>
public sealed class CutoverBuildersTests
{
    private static readonly JailRoot Root = JailRoot.Create("/data/jails", "servera");

    private static SshEndpoint Source(bool legacy) => TransferTests.Source(legacy) with { Address = "127.0.1.1" };

    [Fact]
    public void The_level_1_delta_dumps_with_u_into_restore_r_in_the_partitions_directory()
    {
        var legacy = Transfer.Pipeline(Source(true), FreeBsdRelease.Parse("4.7-RELEASE"), "/usr", "/k", "/kh", Root, "/j/d", "/j/r", level: 1, tempDirectory: "/j/tmp");
        Assert.StartsWith("mkdir -p /j/tmp && cd /data/jails/servera/usr && { ssh -F /dev/null -i /k ", legacy.Text, StringComparison.Ordinal);
        Assert.Contains(" -T root@127.0.1.1 'dump -1ua -f - /usr'; echo $? > /j/d; } | { TMPDIR=/j/tmp restore -rf -; echo $? > /j/r; }", legacy.Text, StringComparison.Ordinal);

        // 5.0 and later: the snapshot flag joins the level; a mount point with a quote-worthy character stays one word.
        var modern = Transfer.Pipeline(Source(false), FreeBsdRelease.Parse("6.2-RELEASE"), "/home/a=b", "/k", "/kh", Root, "/j/d", "/j/r", level: 1);
        Assert.Contains(" -T root@127.0.1.1 'dump -1uaL -f - /home/a=b';", modern.Text, StringComparison.Ordinal);
        Assert.StartsWith("cd /data/jails/servera/home/a=b && ", modern.Text, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Transfer.Pipeline(Source(false), FreeBsdRelease.Parse("6.2-RELEASE"), "/usr", "/k", "/kh", Root, "/j/d", "/j/r", level: 10));
    }

    [Fact]
    public void Stopping_a_service_runs_its_rc_script_with_stop_and_travels_as_one_ssh_argument()
    {
        Assert.Equal("sh /usr/local/etc/rc.d/apache.sh stop", RcScripts.Stop("/usr/local/etc/rc.d/apache.sh").Text);
        Assert.Equal("sh /etc/rc.d/sshd stop", RcScripts.Stop("/etc/rc.d/sshd").Text);
        var argv = OpenSsh.Argv(Source(true), "/k", "/kh", RcScripts.Stop("/usr/local/etc/rc.d/apache.sh"));
        Assert.Equal("sh /usr/local/etc/rc.d/apache.sh stop", argv[^1]);
        Assert.Equal("root@127.0.1.1", argv[^2]);
        foreach (var bad in new[] { "apache.sh", "/usr/local/etc/rc.d/apache.sh; rm -rf /", "/usr/local/etc/rc.d/../../../bin/sh", "/usr/../rc.d/x", "/usr/local/etc/apache.sh", "/usr/local/etc/rc.d/a b" })
        {
            Assert.Throws<ArgumentException>(() => RcScripts.Stop(bad));
        }
    }

    [Fact]
    public void A_script_found_in_the_jail_root_maps_to_its_path_on_the_source()
    {
        Assert.Equal("/usr/local/etc/rc.d/apache.sh", RcScripts.SourcePath(Root, "/data/jails/servera/usr/local/etc/rc.d/apache.sh"));
        Assert.Throws<ArgumentException>(() => RcScripts.SourcePath(Root, "/data/jails/serverab/etc/rc.d/sshd"));
    }

    [Fact]
    public void A_full_pass_empties_the_partition_but_spares_the_partitions_mounted_below_it()
    {
        var all = new[] { "/", "/usr", "/var", "/usr/local" };
        var root = Transfer.WipeSparingNested(Root, "/", all);
        Assert.Equal(
            "mkdir -p /data/jails/servera && find /data/jails/servera -mindepth 1 -maxdepth 1 '!' -name usr '!' -name var -exec chflags -R "
            + Chflags.ClearFlags + " '{}' + && find /data/jails/servera -mindepth 1 -maxdepth 1 '!' -name usr '!' -name var -exec rm -rf '{}' +",
            root.Text);
        Assert.Contains("find /data/jails/servera/usr -mindepth 1 -maxdepth 1 '!' -name local -exec rm -rf '{}' +", Transfer.WipeSparingNested(Root, "/usr", all).Text, StringComparison.Ordinal);
        Assert.Contains("find /data/jails/servera/var -mindepth 1 -maxdepth 1 -exec rm -rf '{}' +", Transfer.WipeSparingNested(Root, "/var", all).Text, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Transfer.WipeSparingNested(Root, "/../etc", all));
    }
}
