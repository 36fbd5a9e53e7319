using System.Globalization;
using System.Text.RegularExpressions;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// A FreeBSD release as <c>uname -r</c> prints it (uname(1), newvers.sh): <c>4.10-RELEASE</c>,
/// <c>4.7-RELEASE-p28</c>, <c>14.1-RELEASE</c>, <c>13.2-STABLE</c>, <c>15.0-CURRENT</c>, <c>14.2-BETA2</c>.
/// Ordered by major, minor, branch stage (CURRENT &lt; PRERELEASE &lt; ALPHA &lt; BETA &lt; RC &lt; RELEASE &lt;
/// STABLE, the order in which a line of development passes them), stage number (BETA1 &lt; BETA2), then patch level.
/// </summary>
public sealed partial class FreeBsdRelease : IComparable<FreeBsdRelease>, IEquatable<FreeBsdRelease>
{
    private static readonly string[] Stages = ["CURRENT", "PRERELEASE", "ALPHA", "BETA", "RC", "RELEASE", "STABLE"];

    /// <summary>Creates a release.</summary>
    /// <param name="major">Major version (e.g. 4 for 4.10).</param>
    /// <param name="minor">Minor version (e.g. 10 for 4.10).</param>
    /// <param name="branch">Branch: <c>RELEASE</c> (default), <c>STABLE</c>, <c>CURRENT</c>, <c>PRERELEASE</c>, or
    /// <c>ALPHA</c>/<c>BETA</c>/<c>RC</c> with an optional number (<c>BETA2</c>).</param>
    /// <param name="patch">Patch level (<c>-p28</c>); 0 for none.</param>
    /// <exception cref="ArgumentException">A negative number or an unknown branch.</exception>
    public FreeBsdRelease(int major, int minor, string branch = "RELEASE", int patch = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(major);
        ArgumentOutOfRangeException.ThrowIfNegative(minor);
        ArgumentOutOfRangeException.ThrowIfNegative(patch);
        ArgumentNullException.ThrowIfNull(branch);
        var m = BranchPattern().Match(branch);
        if (!m.Success)
        {
            throw new ArgumentException($"'{branch}' is not a FreeBSD branch (RELEASE, STABLE, CURRENT, PRERELEASE, ALPHAn, BETAn, RCn).", nameof(branch));
        }

        Major = major;
        Minor = minor;
        Branch = branch;
        Patch = patch;
        StageRank = Array.IndexOf(Stages, m.Groups["stage"].Value);
        StageNumber = m.Groups["n"].Success ? int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>The first release with UFS snapshots, so with dump(8) <c>-L</c> and <c>-C</c>: 5.0.</summary>
    public static FreeBsdRelease SnapshotsSince { get; } = new(5, 0);

    /// <summary>Major version (4 in <c>4.10-RELEASE</c>).</summary>
    public int Major { get; }

    /// <summary>Minor version (10 in <c>4.10-RELEASE</c>).</summary>
    public int Minor { get; }

    /// <summary>Branch as printed: <c>RELEASE</c>, <c>STABLE</c>, <c>CURRENT</c>, <c>PRERELEASE</c>, <c>BETA2</c>, <c>RC1</c>…</summary>
    public string Branch { get; }

    /// <summary>Patch level (28 in <c>4.7-RELEASE-p28</c>); 0 when there is none.</summary>
    public int Patch { get; }

    private int StageRank { get; }

    private int StageNumber { get; }

    /// <summary>Parses <c>uname -r</c> output (surrounding whitespace and a trailing newline are ignored).</summary>
    /// <param name="text">The text, e.g. <c>4.7-RELEASE-p28</c>.</param>
    /// <returns>The release.</returns>
    /// <exception cref="FormatException">The text is not a FreeBSD release string.</exception>
    public static FreeBsdRelease Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var release)
            ? release
            : throw new FormatException($"'{text.Trim()}' is not a FreeBSD release as printed by uname -r (expected e.g. 4.10-RELEASE, 4.7-RELEASE-p28, 13.2-STABLE, 15.0-CURRENT).");
    }

    /// <summary>Parses <c>uname -r</c> output without throwing.</summary>
    /// <param name="text">The text.</param>
    /// <param name="release">The release, or null.</param>
    /// <returns>True when <paramref name="text"/> is a release string.</returns>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out FreeBsdRelease? release)
    {
        release = null;
        if (text is null)
        {
            return false;
        }

        var m = ReleasePattern().Match(text.Trim());
        if (!m.Success
            || !int.TryParse(m.Groups["major"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            || !int.TryParse(m.Groups["minor"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var minor))
        {
            return false;
        }

        var patch = 0;
        if (!BranchPattern().IsMatch(m.Groups["branch"].Value))
        {
            return false;
        }

        if (m.Groups["patch"].Success && !int.TryParse(m.Groups["patch"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out patch))
        {
            return false;
        }

        release = new FreeBsdRelease(major, minor, m.Groups["branch"].Value, patch);
        return true;
    }

    /// <summary>True when this release is <paramref name="major"/>.<paramref name="minor"/> or later (any branch or patch).</summary>
    /// <param name="major">Major version.</param>
    /// <param name="minor">Minor version.</param>
    /// <returns>Whether the version number is at least the one given.</returns>
    public bool IsAtLeast(int major, int minor = 0) => Major > major || (Major == major && Minor >= minor);

    /// <inheritdoc />
    public int CompareTo(FreeBsdRelease? other)
    {
        if (other is null)
        {
            return 1;
        }

        var c = Major.CompareTo(other.Major);
        if (c == 0)
        {
            c = Minor.CompareTo(other.Minor);
        }

        if (c == 0)
        {
            c = StageRank.CompareTo(other.StageRank);
        }

        if (c == 0)
        {
            c = StageNumber.CompareTo(other.StageNumber);
        }

        return c != 0 ? c : Patch.CompareTo(other.Patch);
    }

    /// <inheritdoc />
    public bool Equals(FreeBsdRelease? other) => other is not null && CompareTo(other) == 0;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as FreeBsdRelease);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Major, Minor, StageRank, StageNumber, Patch);

    /// <summary>The release as <c>uname -r</c> prints it, e.g. <c>4.7-RELEASE-p28</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}-{Branch}{(Patch > 0 ? $"-p{Patch}" : string.Empty)}");

    /// <summary>Less than.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>The comparison.</returns>
    public static bool operator <(FreeBsdRelease? left, FreeBsdRelease? right) => Compare(left, right) < 0;

    /// <summary>Greater than.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>The comparison.</returns>
    public static bool operator >(FreeBsdRelease? left, FreeBsdRelease? right) => Compare(left, right) > 0;

    /// <summary>Less than or equal.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>The comparison.</returns>
    public static bool operator <=(FreeBsdRelease? left, FreeBsdRelease? right) => Compare(left, right) <= 0;

    /// <summary>Greater than or equal.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>The comparison.</returns>
    public static bool operator >=(FreeBsdRelease? left, FreeBsdRelease? right) => Compare(left, right) >= 0;

    /// <summary>Equal.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>The comparison.</returns>
    public static bool operator ==(FreeBsdRelease? left, FreeBsdRelease? right) => Compare(left, right) == 0;

    /// <summary>Not equal.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>The comparison.</returns>
    public static bool operator !=(FreeBsdRelease? left, FreeBsdRelease? right) => Compare(left, right) != 0;

    private static int Compare(FreeBsdRelease? left, FreeBsdRelease? right) =>
        left is null ? (right is null ? 0 : -1) : left.CompareTo(right);

    [GeneratedRegex(@"^(?<major>[0-9]{1,3})\.(?<minor>[0-9]{1,3})-(?<branch>[A-Z]+[0-9]*)(?:-p(?<patch>[0-9]{1,4}))?$")]
    private static partial Regex ReleasePattern();

    [GeneratedRegex(@"^(?:(?<stage>CURRENT|PRERELEASE|STABLE|RELEASE)|(?<stage>ALPHA|BETA|RC)(?<n>[0-9]{1,3})?)$")]
    private static partial Regex BranchPattern();
}
