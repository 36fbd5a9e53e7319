using JailWorkflows.FreeBsd;
using JailWorkflows.Shell;

namespace JailWorkflows.Tests.FreeBsd;

public class EtcReviewTests
{
    private static readonly JailRoot Root = JailRoot.Create("/usr/jails", "servera");

    [Theory]
    [InlineData("etc/master.passwd", true)]
    [InlineData("etc/group", true)]
    [InlineData("etc/motd", true)]
    [InlineData("etc/mail/aliases", true)]
    [InlineData("./etc/mail/sendmail.cf", true)]
    [InlineData("etc/rc.conf", false)]
    [InlineData("etc/hosts", false)]
    [InlineData("etc/groups", false)]
    [InlineData("etc/mailer.conf", false)]
    public void The_account_files_motd_and_mail_need_a_person(string path, bool expected) =>
        Assert.Equal(expected, EtcReview.NeedsPerson(path));

    [Fact]
    public void The_conflict_scan_greps_etc_of_the_jail_root_only_and_reports_relative_paths()
    {
        Assert.Equal("grep -rlI -e '^<<<<<<<' -- /usr/jails/servera/etc", EtcReview.ConflictScan(Root).Text);
        Assert.Equal(
            ["etc/hosts", "etc/mail/aliases"],
            EtcReview.ParseConflictScan("/usr/jails/servera/etc/mail/aliases\n/usr/jails/servera/etc/hosts\n", Root));
        Assert.Empty(EtcReview.ParseConflictScan(string.Empty, Root));
    }

    [Fact]
    public void The_mergemaster_rc_names_the_pre_compare_script_quoted()
    {
        Assert.Equal(
            "# written by jailwf for its mergemaster runs (mergemaster(8), .mergemasterrc)\nMM_PRE_COMPARE_SCRIPT='/var/db/jailwf/jails/a b/drop-boot.sh'\n",
            MergemasterRc.Render("/var/db/jailwf/jails/a b/drop-boot.sh"));
        Assert.Throws<ArgumentException>(() => MergemasterRc.Render("drop-boot.sh"));
    }

    [Fact]
    public void The_drop_boot_script_removes_boot_from_the_temproot_and_nothing_else()
    {
        var temproot = Path.Combine(Path.GetTempPath(), "jailwf-dropboot-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(temproot, "boot"));
        Directory.CreateDirectory(Path.Combine(temproot, "etc"));
        File.WriteAllText(Path.Combine(temproot, "boot/device.hints"), "hint\n");
        File.WriteAllText(Path.Combine(temproot, "etc/motd"), "motd\n");
        try
        {
            var r = ShellRunner.Run(ShellCommand.Of("/bin/sh", "-c", "TEMPROOT=\"$1\"; cd \"$TEMPROOT\" && . \"$2\"", "sh", temproot, WriteScript(temproot)));
            Assert.True(r.Status == 0, r.StdErr);
            Assert.Contains("*** jailwf: boot removed from " + temproot, r.StdOut, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(temproot, "boot")));
            Assert.True(File.Exists(Path.Combine(temproot, "etc/motd")));

            var empty = ShellRunner.Run(ShellCommand.Of("/bin/sh", "-c", "TEMPROOT=; . \"$1\"", "sh", Path.Combine(temproot, "drop-boot.sh")));
            Assert.Equal(0, empty.Status);
            Assert.Equal(string.Empty, empty.StdOut);
        }
        finally
        {
            Directory.Delete(temproot, recursive: true);
        }
    }

    [Fact]
    public void Etcupdate_extract_keeps_the_baseline_inside_the_jail()
    {
        Assert.Equal(
            "etcupdate extract -s /usr/src -d /usr/jails/servera/var/db/etcupdate -D /usr/jails/servera",
            Etcupdate.Extract("/usr/src", Root).Text);
        Assert.Throws<ArgumentException>(() => Etcupdate.Extract("usr/src", Root));
    }

    private static string WriteScript(string dir)
    {
        var path = Path.Combine(dir, "drop-boot.sh");
        File.WriteAllText(path, MergemasterRc.DropBootScript);
        return path;
    }
}
