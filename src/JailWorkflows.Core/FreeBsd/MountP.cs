using System.Globalization;
using System.Text;
using JailWorkflows.Plans;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary><c>mount -p</c> (mount(8)): the mounted filesystems in fstab(5) format, to discover a source's partitions.</summary>
public static class MountP
{
    /// <summary><c>mount -p</c>.</summary>
    /// <returns>The command.</returns>
    public static ShellCommand Command() => ShellCommand.Of("mount", "-p");

    /// <summary>
    /// Reads fstab(5)-format lines: device, mount point, type, options, dump frequency, pass number (the last two
    /// default to 0 when absent). Blank lines and <c>#</c> comments are skipped; <c>\040</c>-style octal escapes are decoded.
    /// </summary>
    /// <param name="output">The output.</param>
    /// <returns>The entries, in order.</returns>
    /// <exception cref="FormatException">A line has fewer than four fields or non-numeric dump/pass fields.</exception>
    public static IReadOnlyList<MountEntry> Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var entries = new List<MountEntry>();
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 4)
            {
                throw new FormatException($"'{line}' is not an fstab line (device, mount point, type, options[, dump, pass]).");
            }

            int Number(int i) => f.Length > i
                ? int.TryParse(f[i], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new FormatException($"'{line}': field {i + 1} is not a number.")
                : 0;
            entries.Add(new MountEntry(Unescape(f[0]), Unescape(f[1]), f[2], f[3], Number(4), Number(5)));
        }

        return entries;
    }

    /// <summary>
    /// The entries dump(8) can transfer: type <c>ufs</c>, excluding memory disks (<c>/dev/md*</c>, e.g. an
    /// md-backed <c>/tmp</c>: nothing to keep). Ordered parents first (<c>/</c>, then <c>/usr</c>, then <c>/usr/local</c>).
    /// </summary>
    /// <param name="entries">Parsed <c>mount -p</c> entries.</param>
    /// <returns>The UFS partitions.</returns>
    public static IReadOnlyList<MountEntry> UfsPartitions(IEnumerable<MountEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return entries
            .Where(e => e.FsType == "ufs" && !e.Device.StartsWith("/dev/md", StringComparison.Ordinal))
            .OrderBy(e => e.MountPoint == "/" ? 0 : e.MountPoint.Count(c => c == '/'))
            .ThenBy(e => e.MountPoint, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The UFS partitions as plan entries (<see cref="PartitionSpec"/>).</summary>
    /// <param name="entries">Parsed <c>mount -p</c> entries.</param>
    /// <returns>Mount point and device of each UFS partition, parents first.</returns>
    public static IReadOnlyList<PartitionSpec> ToPartitions(IEnumerable<MountEntry> entries) =>
        UfsPartitions(entries).Select(e => new PartitionSpec { MountPoint = e.MountPoint, Device = e.Device }).ToList();

    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var sb = new StringBuilder();
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && field[(i + 1)..(i + 4)].All(c => c is >= '0' and <= '7'))
            {
                sb.Append((char)Convert.ToInt32(field[(i + 1)..(i + 4)], 8));
                i += 3;
            }
            else
            {
                sb.Append(field[i]);
            }
        }

        return sb.ToString();
    }
}

/// <summary>One fstab(5)-format line of <c>mount -p</c>.</summary>
/// <param name="Device">fs_spec: the device, e.g. <c>/dev/ad0s1a</c>.</param>
/// <param name="MountPoint">fs_file: the mount point, e.g. <c>/</c>.</param>
/// <param name="FsType">fs_vfstype: <c>ufs</c>, <c>devfs</c>, <c>procfs</c>, <c>nfs</c>…</param>
/// <param name="Options">fs_mntops, e.g. <c>rw</c> or <c>rw,noatime</c>.</param>
/// <param name="DumpFrequency">fs_freq.</param>
/// <param name="PassNumber">fs_passno.</param>
public sealed record MountEntry(string Device, string MountPoint, string FsType, string Options, int DumpFrequency, int PassNumber);
