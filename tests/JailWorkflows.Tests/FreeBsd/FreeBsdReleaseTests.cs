using JailWorkflows.FreeBsd;

namespace JailWorkflows.Tests.FreeBsd;

public class FreeBsdReleaseTests
{
    [Theory]
    [InlineData("4.10-RELEASE", 4, 10, "RELEASE", 0)]
    [InlineData("4.7-RELEASE-p28", 4, 7, "RELEASE", 28)]
    [InlineData("6.2-RELEASE-p6", 6, 2, "RELEASE", 6)]
    [InlineData("14.1-RELEASE", 14, 1, "RELEASE", 0)]
    [InlineData("15.0-CURRENT", 15, 0, "CURRENT", 0)]
    [InlineData("13.2-STABLE", 13, 2, "STABLE", 0)]
    [InlineData("14.2-BETA2", 14, 2, "BETA2", 0)]
    [InlineData("13.2-PRERELEASE", 13, 2, "PRERELEASE", 0)]
    [InlineData("  4.9-RELEASE\n", 4, 9, "RELEASE", 0)]
    public void Parses_uname_r_output(string text, int major, int minor, string branch, int patch)
    {
        var r = FreeBsdRelease.Parse(text);
        Assert.Equal((major, minor, branch, patch), (r.Major, r.Minor, r.Branch, r.Patch));
        Assert.Equal(text.Trim(), r.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("4.10")]
    [InlineData("4-RELEASE")]
    [InlineData("4.10-release")]
    [InlineData("4.10-RELEASE-p")]
    [InlineData("4.10-RELEASE-28")]
    [InlineData("4.10-FOO")]
    [InlineData("RELEASE2")]
    [InlineData("4.10-RELEASE2")]
    [InlineData("6.1-RELEASE; rm -rf /")]
    [InlineData("Linux 6.1.0-18-amd64")]
    public void Rejects_anything_else_with_a_clear_FormatException(string text)
    {
        var e = Assert.Throws<FormatException>(() => FreeBsdRelease.Parse(text));
        Assert.Contains("uname -r", e.Message, StringComparison.Ordinal);
        Assert.False(FreeBsdRelease.TryParse(text, out _));
    }

    [Fact]
    public void Orders_by_version_then_stage_then_patch()
    {
        var ordered = new[]
        {
            "4.7-RELEASE", "4.7-RELEASE-p28", "4.9-RELEASE", "4.10-RELEASE", "4.11-STABLE", "5.0-RELEASE", "6.2-RELEASE-p6",
            "13.2-PRERELEASE", "13.2-BETA1", "13.2-BETA2", "13.2-RC1", "13.2-RELEASE", "13.2-STABLE",
            "14.1-RELEASE", "15.0-CURRENT", "15.0-ALPHA1", "15.0-RELEASE",
        }.Select(FreeBsdRelease.Parse).ToList();
        var shuffled = ordered.OrderBy(r => r.GetHashCode()).ToList();
        shuffled.Sort();
        Assert.Equal(ordered.Select(r => r.ToString()), shuffled.Select(r => r.ToString()));
        for (var i = 1; i < ordered.Count; i++)
        {
            Assert.True(ordered[i - 1] < ordered[i], $"{ordered[i - 1]} < {ordered[i]}");
            Assert.True(ordered[i] > ordered[i - 1]);
            Assert.False(ordered[i] <= ordered[i - 1]);
        }
    }

    [Fact]
    public void Equality_and_version_checks()
    {
        Assert.Equal(FreeBsdRelease.Parse("4.10-RELEASE"), new FreeBsdRelease(4, 10));
        Assert.True(FreeBsdRelease.Parse("4.10-RELEASE") == new FreeBsdRelease(4, 10));
        Assert.True(FreeBsdRelease.Parse("4.10-RELEASE-p1") != new FreeBsdRelease(4, 10));
        Assert.True(FreeBsdRelease.Parse("4.10-RELEASE") < FreeBsdRelease.SnapshotsSince);
        Assert.True(FreeBsdRelease.Parse("5.0-RELEASE") >= FreeBsdRelease.SnapshotsSince);
        Assert.True(FreeBsdRelease.Parse("14.1-RELEASE").IsAtLeast(14));
        Assert.False(FreeBsdRelease.Parse("13.2-STABLE").IsAtLeast(14));
        Assert.True(FreeBsdRelease.Parse("4.10-RELEASE").IsAtLeast(4, 9));
    }
}
