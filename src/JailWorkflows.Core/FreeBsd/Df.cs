using System.Globalization;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// <c>df -k</c> (df(1)): size and use of the file systems holding given mount points, in 1024-byte blocks, to
/// tell how much room a source server's partitions need in its jail root.
/// </summary>
/// <remarks>
/// The same on 4.x and 14.x: a header <c>Filesystem 1K-blocks Used Avail Capacity Mounted on</c>, then per
/// file system the device, total, used and available blocks, the capacity (<c>39%</c>) and the mount point (the
/// rest of the line, so it may hold spaces). Avail is negative and capacity above 100% when the root reserve
/// (<c>minfree</c>, tunefs(8)) is in use. Used counts the blocks in use, which is what dump(8) reads and
/// restore(8) writes (give or take the metadata).
/// </remarks>
public static class Df
{
    /// <summary><c>df -k &lt;mount point&gt;…</c>; with none, every mounted file system.</summary>
    /// <param name="mountPoints">Mount points (or any path on the file system wanted).</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">A path is not absolute.</exception>
    public static ShellCommand Command(params IEnumerable<string> mountPoints)
    {
        ArgumentNullException.ThrowIfNull(mountPoints);
        var paths = mountPoints.ToList();
        if (paths.Any(p => p is null || !p.StartsWith('/')))
        {
            throw new ArgumentException("df -k takes absolute paths.", nameof(mountPoints));
        }

        return ShellCommand.Of("df", ["-k", .. paths]);
    }

    /// <summary>
    /// <c>df -k &lt;dir&gt;</c> on the nearest existing ancestor of <paramref name="directory"/>:
    /// <c>df -k /a/b/c 2&gt;/dev/null || df -k /a/b 2&gt;/dev/null || … || df -k /</c>. A directory that does not exist
    /// yet (a jails directory before the first transfer) is created on its nearest existing ancestor's file system.
    /// </summary>
    /// <param name="directory">An absolute, normalised directory (see <see cref="JailRoot.ValidateDirectory"/>).</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">The path is not acceptable.</exception>
    public static ShellCommand KilobytesOfNearestExisting(string directory)
    {
        var path = JailRoot.ValidateDirectory(directory, nameof(directory));
        ShellCommand? command = null;
        while (path.Length > 0)
        {
            var step = Command(path).RedirectTo("/dev/null", fd: 2);
            command = command is null ? step : command.Or(step);
            path = path[..path.LastIndexOf('/')];
        }

        return command!.Or(Command("/"));
    }

    /// <summary>Reads <c>df -k</c> output.</summary>
    /// <param name="output">The output (LF or CRLF line ends). A device name alone on its line, its numbers on the
    /// next (how some df versions wrap long names), is read as one entry.</param>
    /// <returns>The entries in order.</returns>
    /// <exception cref="FormatException">The header is not the 1K-blocks one (df was not run with <c>-k</c>), or a line
    /// does not have the six columns with numbers where numbers belong.</exception>
    public static IReadOnlyList<DfEntry> Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var entries = new List<DfEntry>();
        var headerSeen = false;
        string? pending = null;
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0)
            {
                continue;
            }

            var h = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            var isHeader = h.Length >= 2 && h[0] == "Filesystem" && (h[1] == "1K-blocks" || h[1] == "1024-blocks");
            if (headerSeen && isHeader && pending is null)
            {
                continue; // several df runs in one output (KilobytesOfNearestExisting): each prints its header
            }

            if (!headerSeen)
            {
                if (!isHeader)
                {
                    throw new FormatException($"'{line.Trim()}' is not the header of 'df -k' (Filesystem 1K-blocks Used Avail Capacity Mounted on).");
                }

                headerSeen = true;
                continue;
            }

            if (pending is not null)
            {
                line = pending + " " + line.TrimStart();
                pending = null;
            }

            var f = line.Split([' ', '\t'], 6, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 1)
            {
                pending = f[0];
                continue;
            }

            if (f.Length < 6 || !f[4].EndsWith('%'))
            {
                throw new FormatException($"'{line.Trim()}' is not a 'df -k' line (file system, 1K-blocks, used, avail, capacity, mounted on).");
            }

            entries.Add(new DfEntry(
                f[0],
                Number(f[1], line),
                Number(f[2], line),
                Number(f[3], line),
                (int)Number(f[4][..^1], line),
                f[5].Trim()));
        }

        if (pending is not null)
        {
            throw new FormatException($"'{pending}': a df line without its numbers.");
        }

        if (!headerSeen)
        {
            throw new FormatException("No 'df -k' output (the header line is missing).");
        }

        return entries;
    }

    private static long Number(string text, string line) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new FormatException($"'{line.Trim()}': '{text}' is not a number.");
}

/// <summary>One file system as <c>df -k</c> reports it. Sizes in KiB (1024-byte blocks).</summary>
/// <param name="FileSystem">The device, e.g. <c>/dev/ad0s1f</c>.</param>
/// <param name="SizeKiB">Total size in KiB (the <c>1K-blocks</c> column).</param>
/// <param name="UsedKiB">KiB in use.</param>
/// <param name="AvailableKiB">KiB available to ordinary users; negative when the root reserve is being used.</param>
/// <param name="CapacityPercent">Used share as df prints it (may exceed 100).</param>
/// <param name="MountedOn">The mount point, e.g. <c>/usr</c>.</param>
public sealed record DfEntry(string FileSystem, long SizeKiB, long UsedKiB, long AvailableKiB, int CapacityPercent, string MountedOn);
