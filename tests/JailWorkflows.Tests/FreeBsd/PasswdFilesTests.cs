using JailWorkflows.FreeBsd;

namespace JailWorkflows.Tests.FreeBsd;

public class PasswdFilesTests
{
    private const string JailMasterPasswd = """
        # $FreeBSD: src/etc/master.passwd,v 1.25.2.6 2002/06/30 17:57:17 des Exp $
        root:$1$salt$hash:0:0::0:0:Charlie &:/root:/bin/csh
        www:*:80:80::0:0:World Wide Web Owner:/nonexistent:/sbin/nologin
        admin:$1$salt$adminhash:1001:1001::0:0:Administrator:/home/admin:/bin/sh

        """;

    private const string WorldMasterPasswd = """
        #
        root::0:0::0:0:Charlie &:/root:/bin/sh
        _pflogd:*:64:64::0:0:pflogd privsep user:/var/empty:/usr/sbin/nologin
        www:*:80:80::0:0:World Wide Web Owner:/nonexistent:/usr/sbin/nologin
        ntpd:*:123:123::0:0:NTP Daemon:/var/db/ntp:/usr/sbin/nologin
        clash:*:1001:1001::0:0:A new user with admin's uid:/nonexistent:/usr/sbin/nologin

        """;

    [Fact]
    public void Adds_only_the_users_the_jail_lacks_and_keeps_every_existing_line_as_it_is()
    {
        var merge = PasswdFiles.AddMissing(JailMasterPasswd, WorldMasterPasswd, PasswdFileKind.MasterPasswd);

        Assert.Equal(["_pflogd", "ntpd"], merge.Added);
        Assert.StartsWith(JailMasterPasswd, merge.Text, StringComparison.Ordinal);
        Assert.EndsWith(
            "_pflogd:*:64:64::0:0:pflogd privsep user:/var/empty:/usr/sbin/nologin\nntpd:*:123:123::0:0:NTP Daemon:/var/db/ntp:/usr/sbin/nologin\n",
            merge.Text,
            StringComparison.Ordinal);
        Assert.Contains("root:$1$salt$hash:0:0::0:0:Charlie &:/root:/bin/csh", merge.Text, StringComparison.Ordinal);
        var conflict = Assert.Single(merge.Conflicts);
        Assert.Equal("clash (uid 1001 belongs to admin)", conflict);
    }

    [Fact]
    public void Merging_again_adds_nothing()
    {
        var once = PasswdFiles.AddMissing(JailMasterPasswd, WorldMasterPasswd, PasswdFileKind.MasterPasswd);
        var twice = PasswdFiles.AddMissing(once.Text, WorldMasterPasswd, PasswdFileKind.MasterPasswd);

        Assert.Empty(twice.Added);
        Assert.Equal(once.Text, twice.Text);
    }

    [Fact]
    public void Groups_are_merged_by_name_and_gid_and_a_file_without_final_newline_gets_one()
    {
        var merge = PasswdFiles.AddMissing("wheel:*:0:root,admin\nwww:*:80:admin", "wheel:*:0:root\n_dhcp:*:65:\nwww:*:80:\n", PasswdFileKind.Group);

        Assert.Equal(["_dhcp"], merge.Added);
        Assert.Equal("wheel:*:0:root,admin\nwww:*:80:admin\n_dhcp:*:65:\n", merge.Text);
    }

    [Fact]
    public void A_line_with_the_wrong_field_count_is_refused_with_its_line_number()
    {
        var ex = Assert.Throws<FormatException>(() => PasswdFiles.AddMissing("root:*:0:0\n", "root::0:0::0:0:Charlie &:/root:/bin/sh\n", PasswdFileKind.MasterPasswd));
        Assert.Contains("line 1 has 4 fields, not 10", ex.Message, StringComparison.Ordinal);
    }
}
