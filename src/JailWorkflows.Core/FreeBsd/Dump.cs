using System.Globalization;
using System.Text.RegularExpressions;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// dump(8) on a source server: the command line and its <c>DUMP:</c> messages on standard error.
/// </summary>
public static partial class Dump
{
    /// <summary>Size of a dump block in bytes (dump(8) <c>TP_BSIZE</c>): block counts in its messages are KiB.</summary>
    public const int BlockSize = 1024;

    /// <summary>
    /// Whether dump(8) on <paramref name="source"/> can take a UFS snapshot (<c>-L</c>): FreeBSD 5.0 and later.
    /// 4.x has neither <c>-L</c> nor <c>-C</c>.
    /// </summary>
    /// <param name="source">The source server's release.</param>
    /// <returns>True from 5.0 on.</returns>
    public static bool UsesSnapshot(FreeBsdRelease source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source >= FreeBsdRelease.SnapshotsSince;
    }

    /// <summary>
    /// <c>dump -&lt;level&gt;ua[L] -f - &lt;mount point or device&gt;</c>: dump to standard output, recording the
    /// dump in the source's <c>/etc/dumpdates</c> (<c>-u</c>, needed for a later delta of a higher level) and
    /// ignoring tape length (<c>-a</c>). <c>-L</c> (snapshot of the live filesystem) is added only when
    /// <paramref name="snapshot"/> is requested and the source has it (<see cref="UsesSnapshot"/>); on 4.x the
    /// request is silently dropped and the dump is of the live filesystem (not snapshot-consistent).
    /// </summary>
    /// <param name="source">The source server's release (<c>uname -r</c>).</param>
    /// <param name="level">Dump level 0 (full) to 9.</param>
    /// <param name="mountPointOrDevice">Absolute mount point (<c>/usr</c>) or device (<c>/dev/ad0s1f</c>).</param>
    /// <param name="snapshot">Ask for a snapshot (<c>-L</c>) where the source supports it.</param>
    /// <returns>The command, to run on the source server.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="level"/> is not 0..9.</exception>
    /// <exception cref="ArgumentException"><paramref name="mountPointOrDevice"/> is not an absolute path.</exception>
    public static ShellCommand Command(FreeBsdRelease source, int level, string mountPointOrDevice, bool snapshot)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(mountPointOrDevice);
        if (level is < 0 or > 9)
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "A dump level is 0 to 9 (dump(8)).");
        }

        if (!mountPointOrDevice.StartsWith('/'))
        {
            throw new ArgumentException($"'{mountPointOrDevice}' is not an absolute mount point or device.", nameof(mountPointOrDevice));
        }

        var flags = "-" + level.ToString(CultureInfo.InvariantCulture) + "ua" + (snapshot && UsesSnapshot(source) ? "L" : string.Empty);
        return ShellCommand.Of("dump", flags, "-f", "-", mountPointOrDevice);
    }

    /// <summary>
    /// Reads one line dump(8) wrote to standard error. Understands FreeBSD's
    /// <c>DUMP: 45.23% done, finished in 0:10 at &lt;date&gt;</c> (the <c>at</c> part is absent on old releases),
    /// <c>99.99% done, finished soon</c>, Linux dump's <c>DUMP: 45.23% done at 1234 kB/s, finished in 0:10</c>,
    /// <c>DUMP IS DONE</c>, <c>dump downgraded, -L ignored</c>, <c>estimated N [tape] blocks</c>,
    /// <c>N [tape] blocks</c> / <c>N blocks (1.21MB) on 1 volume(s)</c> and <c>The ENTIRE dump is aborted</c>.
    /// </summary>
    /// <param name="line">One line (leading blanks and a trailing CR are ignored).</param>
    /// <returns>What the line says; <see cref="DumpLineKind.Other"/> for anything else.</returns>
    public static DumpLine ParseStderrLine(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var text = line.Trim();

        // Messages are "  DUMP: <msg>"; a few have the prefix twice ("DUMP: DUMP: 1234 tape blocks").
        var body = text;
        while (body.StartsWith("DUMP:", StringComparison.Ordinal))
        {
            body = body[5..].TrimStart();
        }

        if (body.Contains("-L ignored", StringComparison.Ordinal) || body.Contains("dump downgraded", StringComparison.OrdinalIgnoreCase))
        {
            return new DumpLine(DumpLineKind.NotSnapshotConsistent, text);
        }

        if (body.StartsWith("DUMP IS DONE", StringComparison.Ordinal))
        {
            return new DumpLine(DumpLineKind.Done, text);
        }

        if (body.Contains("dump is aborted", StringComparison.OrdinalIgnoreCase))
        {
            return new DumpLine(DumpLineKind.Aborted, text);
        }

        var m = ProgressPattern().Match(body);
        if (m.Success)
        {
            var percent = double.Parse(m.Groups["pct"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
            TimeSpan? remaining = m.Groups["h"].Success
                ? new TimeSpan(int.Parse(m.Groups["h"].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups["m"].Value, CultureInfo.InvariantCulture), 0)
                : null;
            long? rate = m.Groups["rate"].Success ? long.Parse(m.Groups["rate"].Value, CultureInfo.InvariantCulture) : null;
            return new DumpLine(DumpLineKind.Progress, text) { PercentDone = percent, Remaining = remaining, RateKiBPerSecond = rate };
        }

        m = EstimatePattern().Match(body);
        if (m.Success)
        {
            return new DumpLine(DumpLineKind.Estimate, text) { Blocks = long.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture) };
        }

        m = BlocksPattern().Match(body);
        if (m.Success)
        {
            return new DumpLine(DumpLineKind.BlocksWritten, text) { Blocks = long.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture) };
        }

        return new DumpLine(DumpLineKind.Other, text);
    }

    /// <summary>Reads every line of a stretch of dump(8) standard error (see <see cref="ParseStderrLine"/>); blank lines are skipped.</summary>
    /// <param name="stderr">The text.</param>
    /// <returns>The lines read, in order.</returns>
    public static IReadOnlyList<DumpLine> ParseStderr(string stderr)
    {
        ArgumentNullException.ThrowIfNull(stderr);
        return stderr.Split('\n').Where(l => l.Trim().Length > 0).Select(ParseStderrLine).ToList();
    }

    [GeneratedRegex(@"^(?<pct>[0-9]+(?:\.[0-9]+)?)% done(?: at (?<rate>[0-9]+) kB/s)?, finished (?:in (?<h>[0-9]+):(?<m>[0-5][0-9])|soon)")]
    private static partial Regex ProgressPattern();

    [GeneratedRegex(@"^estimated (?<n>[0-9]+) (?:tape )?blocks")]
    private static partial Regex EstimatePattern();

    [GeneratedRegex(@"^(?:Volume [0-9]+ )?(?<n>[0-9]+) (?:tape )?blocks")]
    private static partial Regex BlocksPattern();
}

/// <summary>What a dump(8) standard-error line says.</summary>
public enum DumpLineKind
{
    /// <summary>Anything not listed below (informational <c>DUMP:</c> messages, warnings).</summary>
    Other,

    /// <summary>A progress line: <see cref="DumpLine.PercentDone"/> and usually <see cref="DumpLine.Remaining"/>.</summary>
    Progress,

    /// <summary><c>DUMP IS DONE</c>: dump finished writing (its exit status still decides).</summary>
    Done,

    /// <summary><c>dump downgraded, -L ignored</c>: no snapshot was taken, the copy is of the live filesystem and not
    /// snapshot-consistent. Never treat as a consistent copy.</summary>
    NotSnapshotConsistent,

    /// <summary><c>estimated N blocks</c>: the expected size, <see cref="DumpLine.Blocks"/> KiB.</summary>
    Estimate,

    /// <summary><c>N blocks</c> written (the summary at the end), <see cref="DumpLine.Blocks"/> KiB.</summary>
    BlocksWritten,

    /// <summary><c>The ENTIRE dump is aborted</c>.</summary>
    Aborted,
}

/// <summary>One dump(8) standard-error line, read.</summary>
/// <param name="Kind">What it says.</param>
/// <param name="Text">The line, trimmed.</param>
public sealed record DumpLine(DumpLineKind Kind, string Text)
{
    /// <summary>Percent done (0..100) for <see cref="DumpLineKind.Progress"/>.</summary>
    public double? PercentDone { get; init; }

    /// <summary>Estimated time left (dump prints hours:minutes) for <see cref="DumpLineKind.Progress"/>; null for "finished soon".</summary>
    public TimeSpan? Remaining { get; init; }

    /// <summary>Throughput in KiB/s (Linux dump's progress lines only).</summary>
    public long? RateKiBPerSecond { get; init; }

    /// <summary>Block count (1 KiB blocks, <see cref="Dump.BlockSize"/>) for <see cref="DumpLineKind.Estimate"/> and <see cref="DumpLineKind.BlocksWritten"/>.</summary>
    public long? Blocks { get; init; }
}
