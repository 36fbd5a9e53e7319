using JailWorkflows.FreeBsd;

namespace JailWorkflows.Tests.FreeBsd;

public class MakeTests
{
    [Theory]
    [InlineData("13.2-STABLE", true, "make -C /usr/src -j8 -DNO_CLEAN buildworld")]
    [InlineData("6.2-RELEASE", true, "make -C /usr/src -j8 -DNO_CLEAN buildworld")]
    [InlineData("14.0-RELEASE", true, "make -C /usr/src -j8 WITHOUT_CLEAN=yes buildworld")]
    [InlineData("14.1-RELEASE-p5", true, "make -C /usr/src -j8 WITHOUT_CLEAN=yes buildworld")]
    [InlineData("15.0-CURRENT", true, "make -C /usr/src -j8 WITHOUT_CLEAN=yes buildworld")]
    [InlineData("14.1-RELEASE", false, "make -C /usr/src -j8 buildworld")]
    public void Buildworld_resumes_with_the_knob_of_the_source_release(string release, bool resume, string expected) =>
        Assert.Equal(expected, Make.BuildWorld("/usr/src", 8, FreeBsdRelease.Parse(release), resume).Text);

    [Fact]
    public void Objdir_goes_into_the_environment()
    {
        Assert.Equal("MAKEOBJDIRPREFIX=/usr/obj make -C /usr/src -j2 buildworld", Make.BuildWorld("/usr/src", 2, FreeBsdRelease.Parse("14.1-RELEASE"), false, "/usr/obj").Text);
        Assert.Equal("MAKEOBJDIRPREFIX='/o b' make -C /usr/src installworld DESTDIR=/data/jails/servera", Make.InstallWorld("/usr/src", JailRoot.Create("/data/jails", "servera"), "/o b").Text);
    }

    [Fact]
    public void Installworld_into_a_jail_root() =>
        Assert.Equal("make -C /usr/src installworld DESTDIR=/data/jails/servera", Make.InstallWorld("/usr/src", JailRoot.Create("/data/jails", "servera")).Text);

    [Fact]
    public void Bad_inputs_are_refused()
    {
        var r = FreeBsdRelease.Parse("14.1-RELEASE");
        Assert.Throws<ArgumentOutOfRangeException>(() => Make.BuildWorld("/usr/src", 0, r, false));
        Assert.Throws<ArgumentException>(() => Make.BuildWorld("usr/src", 1, r, false));
        Assert.Throws<ArgumentException>(() => Make.BuildWorld("/usr/src", 1, r, false, "obj"));
    }

    [Fact]
    public void A_source_dir_with_metacharacters_stays_one_word()
    {
        var src = "/src/$(reboot); it's";
        Assert.Equal(["-C", src, "-j3", "buildworld"], ShellRunner.ArgvOf(Make.BuildWorld(src, 3, FreeBsdRelease.Parse("13.2-STABLE"), false)));
    }

    [Fact]
    public void Reads_newvers()
    {
        var r = Make.ParseNewvers("TYPE=\"FreeBSD\"\nREVISION=\"14.1\"\nBRANCH=\"RELEASE-p5\"\n");
        Assert.Equal("14.1-RELEASE-p5", r.ToString());
        Assert.Equal("grep -E '^(REVISION|BRANCH)=' /usr/src/sys/conf/newvers.sh", Make.ReadNewvers("/usr/src").Text);
        Assert.Throws<FormatException>(() => Make.ParseNewvers("REVISION=\"14.1\"\n"));
    }
}

public class MergemasterTests
{
    private static readonly JailRoot Root = JailRoot.Create("/data/jails", "servera");

    [Fact]
    public void Unattended_text() =>
        Assert.Equal("PAGER=cat mergemaster -i -D /data/jails/servera -m /usr/src -t /var/tmp/temproot.servera < /dev/null", Mergemaster.Unattended("/usr/src", Root, "/var/tmp/temproot.servera").Text);

    [Fact]
    public void Pre_world_text() =>
        Assert.Equal("PAGER=cat mergemaster -p -a -D /data/jails/servera -m /usr/src -t /var/tmp/t < /dev/null", Mergemaster.PreWorld("/usr/src", Root, "/var/tmp/t").Text);

    [Fact]
    public void Pwd_mkdb_text() =>
        Assert.Equal("pwd_mkdb -d /data/jails/servera/etc -p /data/jails/servera/etc/master.passwd", Mergemaster.PwdMkdb(Root).Text);

    [Fact]
    public void Temproot_inside_the_jail_or_relative_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Mergemaster.Unattended("/usr/src", Root, "/data/jails/servera/tmp/t"));
        Assert.Throws<ArgumentException>(() => Mergemaster.Unattended("/usr/src", Root, "/data/jails/servera"));
        Assert.Throws<ArgumentException>(() => Mergemaster.Unattended("/usr/src", Root, "tmp"));
        Assert.Throws<ArgumentException>(() => Mergemaster.Unattended("src", Root, "/tmp/t"));
        Mergemaster.Unattended("/usr/src", Root, "/data/jails/servera2/t"); // a sibling, not inside
    }

    [Fact]
    public void Reads_what_remains()
    {
        var output = """

            *** The directory specified for the temporary root environment,
                /var/tmp/temproot, exists.  This can be a security risk if untrusted
                users have access to the system.

            *** Creating the temporary root environment in /var/tmp/temproot.1130.02.10.11
             *** /var/tmp/temproot.1130.02.10.11 ready for use
             *** Creating and populating directory structure in /var/tmp/temproot.1130.02.10.11

            *** Beginning comparison

               *** ./etc/rc.conf will remain for your consideration
               *** ./etc/master.passwd will remain for your consideration
               *** Problem installing ./etc/motd, it will remain to merge by hand

            *** Comparison complete

            *** Files that remain for you to merge by hand:
            /var/tmp/temproot.1130.02.10.11/etc/rc.conf
            /var/tmp/temproot.1130.02.10.11/etc/master.passwd
            /var/tmp/temproot.1130.02.10.11/etc/mail/aliases

            """;
        var report = Mergemaster.ParseOutput(output, "/var/tmp/temproot");
        Assert.Equal(["etc/rc.conf", "etc/master.passwd", "etc/mail/aliases"], report.Remaining);
        Assert.Equal(["etc/motd"], report.Problems);
        Assert.Equal("/var/tmp/temproot.1130.02.10.11", report.TempRoot);
        Assert.True(report.Completed);
    }

    [Fact]
    public void A_temproot_elsewhere_is_never_taken_from_the_output()
    {
        // The caller removes the reported temproot: only the given one or mergemaster's <temproot>.<date> is accepted.
        var report = Mergemaster.ParseOutput("*** Creating the temporary root environment in /etc\n", "/var/tmp/t");
        Assert.Equal("/var/tmp/t", report.TempRoot);
        Assert.Equal("/var/tmp/t", Mergemaster.ParseOutput("*** Creating the temporary root environment in /var/tmp/t.x/../../etc\n", "/var/tmp/t").TempRoot);
    }

    [Fact]
    public void An_interrupted_run_is_not_complete()
    {
        var report = Mergemaster.ParseOutput("*** Beginning comparison\n", "/var/tmp/t");
        Assert.False(report.Completed);
        Assert.Empty(report.Remaining);
        Assert.Equal("/var/tmp/t", report.TempRoot);
    }
}
