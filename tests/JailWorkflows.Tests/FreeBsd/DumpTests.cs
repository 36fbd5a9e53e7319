using JailWorkflows.FreeBsd;

namespace JailWorkflows.Tests.FreeBsd;

public class DumpTests
{
    [Theory]
    [InlineData("4.10-RELEASE", true, "dump -0ua -f - /usr")]
    [InlineData("4.7-RELEASE-p28", true, "dump -0ua -f - /usr")]
    [InlineData("5.0-RELEASE", true, "dump -0uaL -f - /usr")]
    [InlineData("14.1-RELEASE", true, "dump -0uaL -f - /usr")]
    [InlineData("14.1-RELEASE", false, "dump -0ua -f - /usr")]
    public void Snapshot_flag_only_from_5_0_and_only_when_asked(string release, bool snapshot, string expected)
    {
        var r = FreeBsdRelease.Parse(release);
        Assert.Equal(expected, Dump.Command(r, 0, "/usr", snapshot).Text);
        Assert.Equal(r.Major >= 5, Dump.UsesSnapshot(r));
    }

    [Fact]
    public void Level_is_validated_and_used()
    {
        var r = FreeBsdRelease.Parse("6.2-RELEASE-p6");
        Assert.Equal("dump -9uaL -f - /dev/ad0s1a", Dump.Command(r, 9, "/dev/ad0s1a", true).Text);
        Assert.Throws<ArgumentOutOfRangeException>(() => Dump.Command(r, 10, "/", true));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dump.Command(r, -1, "/", true));
        Assert.Throws<ArgumentException>(() => Dump.Command(r, 0, "-f/etc/passwd", true));
        Assert.Throws<ArgumentException>(() => Dump.Command(r, 0, "usr", true));
    }

    [Fact]
    public void A_mount_point_with_metacharacters_is_one_word()
    {
        var mp = "/data/it's $(reboot); `x` \"q\"";
        var argv = ShellRunner.ArgvOf(Dump.Command(FreeBsdRelease.Parse("14.1-RELEASE"), 1, mp, true));
        Assert.Equal(["-1uaL", "-f", "-", mp], argv);
    }

    [Theory]
    [InlineData("  DUMP: 45.23% done, finished in 0:10", 45.23, 0, 10, null)]
    [InlineData("  DUMP: 12.34% done, finished in 1:02", 12.34, 1, 2, null)]
    [InlineData("  DUMP: 45.23% done, finished in 0:10 at Sat Oct 21 12:00:00 2023", 45.23, 0, 10, null)]
    [InlineData("  DUMP: 45.23% done at 1234 kB/s, finished in 0:10", 45.23, 0, 10, 1234L)]
    [InlineData("DUMP: 99.01% done at 20 kB/s, finished in 12:59\r", 99.01, 12, 59, 20L)]
    public void Progress_lines_of_FreeBSD_and_Linux_dump(string line, double pct, int h, int m, long? rate)
    {
        var d = Dump.ParseStderrLine(line);
        Assert.Equal(DumpLineKind.Progress, d.Kind);
        Assert.Equal(pct, d.PercentDone);
        Assert.Equal(new TimeSpan(h, m, 0), d.Remaining);
        Assert.Equal(rate, d.RateKiBPerSecond);
    }

    [Fact]
    public void Finished_soon_has_no_eta()
    {
        var d = Dump.ParseStderrLine("  DUMP: 99.99% done, finished soon");
        Assert.Equal(DumpLineKind.Progress, d.Kind);
        Assert.Equal(99.99, d.PercentDone);
        Assert.Null(d.Remaining);
    }

    [Theory]
    [InlineData("  DUMP: DUMP IS DONE", DumpLineKind.Done, null)]
    [InlineData("  DUMP: dump downgraded, -L ignored", DumpLineKind.NotSnapshotConsistent, null)]
    [InlineData("  DUMP: estimated 123456 tape blocks.", DumpLineKind.Estimate, 123456L)]
    [InlineData("  DUMP: estimated 1234 blocks.", DumpLineKind.Estimate, 1234L)]
    [InlineData("  DUMP: 1234 blocks (1.21MB) on 1 volume(s)", DumpLineKind.BlocksWritten, 1234L)]
    [InlineData("  DUMP: DUMP: 2345 tape blocks on 1 volume", DumpLineKind.BlocksWritten, 2345L)]
    [InlineData("  DUMP: Volume 1 1230 blocks (1.20MB)", DumpLineKind.BlocksWritten, 1230L)]
    [InlineData("  DUMP: The ENTIRE dump is aborted.", DumpLineKind.Aborted, null)]
    [InlineData("  DUMP: Date of this level 0 dump: Mon Nov 30 02:00:00 2026", DumpLineKind.Other, null)]
    [InlineData("  DUMP: mapping (Pass I) [regular files]", DumpLineKind.Other, null)]
    public void Other_messages(string line, DumpLineKind kind, long? blocks)
    {
        var d = Dump.ParseStderrLine(line);
        Assert.Equal(kind, d.Kind);
        Assert.Equal(blocks, d.Blocks);
        Assert.Equal(line.Trim(), d.Text);
    }

    [Fact]
    public void Parses_a_whole_stderr_capture()
    {
        var lines = Dump.ParseStderr("  DUMP: estimated 100 blocks.\n\n  DUMP: 50.00% done at 10 kB/s, finished in 0:01\n  DUMP: DUMP IS DONE\n");
        Assert.Equal([DumpLineKind.Estimate, DumpLineKind.Progress, DumpLineKind.Done], lines.Select(l => l.Kind));
    }
}
