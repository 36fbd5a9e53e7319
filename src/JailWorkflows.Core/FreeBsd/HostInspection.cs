using System.Globalization;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>df(1): free and used space of file systems, in kilobytes.</summary>
public static class Df
{
    /// <summary>
    /// <c>df -k &lt;path…&gt;</c>: one row per file system holding each path (df(1) reports the file system a path
    /// lives on, not the path's own usage). Exits 1 and names the path on stderr when a path does not exist.
    /// </summary>
    /// <param name="paths">Absolute paths (mount points or any path on the file system).</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">No path, or a path is not absolute.</exception>
    public static ShellCommand Kilobytes(params IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0 || paths.Any(p => p is null || !p.StartsWith('/')))
        {
            throw new ArgumentException("df -k takes one or more absolute paths.", nameof(paths));
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
            var step = Kilobytes(path).RedirectTo("/dev/null", fd: 2);
            command = command is null ? step : command.Or(step);
            path = path[..path.LastIndexOf('/')];
        }

        return command!.Or(Kilobytes("/"));
    }

    /// <summary>
    /// Reads df(1) output: a header (<c>Filesystem 1K-blocks Used Avail Capacity Mounted on</c> on 4.x,
    /// <c>1024-blocks</c> on later releases) and one row per file system: <c>filesystem total used avail capacity
    /// mount-point</c>. The mount point is the rest of the row (it may hold blanks).
    /// </summary>
    /// <param name="output">df's standard output.</param>
    /// <returns>The rows, in order.</returns>
    /// <exception cref="FormatException">A row is not in df's format.</exception>
    public static IReadOnlyList<DfRow> Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var rows = new List<DfRow>();
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0 || line.StartsWith("Filesystem", StringComparison.Ordinal))
            {
                continue;
            }

            var fields = Fields(line, 6);
            if (fields.Count < 6
                || !long.TryParse(fields[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var total)
                || !long.TryParse(fields[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var used)
                || !long.TryParse(fields[3], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var avail)
                || !fields[4].EndsWith('%'))
            {
                throw new FormatException($"'{line}' is not a df(1) row (filesystem, 1K-blocks, used, avail, capacity, mounted on).");
            }

            rows.Add(new DfRow(fields[0], total, used, avail, fields[5]));
        }

        return rows;
    }

    /// <summary>Splits a line into at most <paramref name="count"/> blank-separated fields; the last takes the rest.</summary>
    internal static List<string> Fields(string line, int count)
    {
        var fields = new List<string>();
        var i = 0;
        while (i < line.Length && fields.Count < count)
        {
            while (i < line.Length && char.IsWhiteSpace(line[i]))
            {
                i++;
            }

            if (i >= line.Length)
            {
                break;
            }

            if (fields.Count == count - 1)
            {
                fields.Add(line[i..].TrimEnd());
                break;
            }

            var start = i;
            while (i < line.Length && !char.IsWhiteSpace(line[i]))
            {
                i++;
            }

            fields.Add(line[start..i]);
        }

        return fields;
    }
}

/// <summary>One row of <c>df -k</c>.</summary>
/// <param name="Filesystem">The device (e.g. <c>/dev/ad0s1a</c>) or file system name.</param>
/// <param name="TotalKilobytes">Size in kilobytes (1024 bytes).</param>
/// <param name="UsedKilobytes">Allocated (used) kilobytes: what a dump of it restores, roughly.</param>
/// <param name="AvailableKilobytes">Kilobytes available to unprivileged users (may be negative on UFS when the reserve is in use).</param>
/// <param name="MountedOn">The mount point.</param>
public sealed record DfRow(string Filesystem, long TotalKilobytes, long UsedKilobytes, long AvailableKilobytes, string MountedOn);

/// <summary>ifconfig(8): the addresses configured on the host's interfaces.</summary>
public static class Ifconfig
{
    /// <summary><c>ifconfig -a</c>: every interface with its addresses.</summary>
    /// <returns>The command.</returns>
    public static ShellCommand All() => ShellCommand.Of("ifconfig", "-a");

    /// <summary>
    /// The IPv4 addresses in ifconfig(8) output: interface blocks start at column 0 (<c>em0: flags=…</c>), address
    /// lines are indented <c>inet 10.0.0.5 netmask 0xffffff00 broadcast …</c> (aliases are further <c>inet</c> lines).
    /// </summary>
    /// <param name="output">ifconfig's standard output.</param>
    /// <returns>(interface, address) pairs, in order.</returns>
    public static IReadOnlyList<InterfaceAddress> ParseIPv4(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var result = new List<InterfaceAddress>();
        var current = string.Empty;
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            if (!char.IsWhiteSpace(line[0]))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                current = colon > 0 ? line[..colon] : line.Trim();
                continue;
            }

            var words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length >= 2 && words[0] == "inet" && NetworkNames.IsIPv4(words[1]))
            {
                result.Add(new InterfaceAddress(current, words[1]));
            }
        }

        return result;
    }
}

/// <summary>An IPv4 address on an interface.</summary>
/// <param name="Interface">The interface, e.g. <c>em0</c> or <c>lo0</c>.</param>
/// <param name="Address">The address.</param>
public sealed record InterfaceAddress(string Interface, string Address);

/// <summary>sockstat(1): open sockets with their owning process.</summary>
public static class Sockstat
{
    /// <summary><c>sockstat -4l</c>: listening (and bound, for UDP) IPv4 sockets of every process, jailed ones included.</summary>
    /// <returns>The command.</returns>
    public static ShellCommand ListeningIPv4() => ShellCommand.Of("sockstat", "-4l");

    /// <summary>
    /// Reads sockstat's default output: a header <c>USER COMMAND PID FD PROTO LOCAL ADDRESS FOREIGN ADDRESS</c> and rows
    /// <c>www httpd 1234 3 tcp4 10.0.0.5:80 *:*</c>. The local address is <c>addr:port</c>, <c>*:port</c> for a wildcard.
    /// Rows that do not have these columns (e.g. <c>?</c> owners) are skipped.
    /// </summary>
    /// <param name="output">sockstat's standard output.</param>
    /// <returns>The sockets, in order.</returns>
    public static IReadOnlyList<SocketListing> Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var result = new List<SocketListing>();
        foreach (var raw in output.Split('\n'))
        {
            var words = raw.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 7 || words[0] == "USER")
            {
                continue;
            }

            var local = words[5];
            var colon = local.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(local[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
                || !int.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            result.Add(new SocketListing(words[0], words[1], pid, words[4], local[..colon], port));
        }

        return result;
    }
}

/// <summary>One socket of sockstat(1).</summary>
/// <param name="User">The owner.</param>
/// <param name="Command">The process's command name (e.g. <c>httpd</c>).</param>
/// <param name="Pid">The process id (as the host sees it).</param>
/// <param name="Protocol">E.g. <c>tcp4</c>, <c>udp4</c>.</param>
/// <param name="LocalAddress">The bound address, or <c>*</c> for any.</param>
/// <param name="LocalPort">The bound port.</param>
public sealed record SocketListing(string User, string Command, int Pid, string Protocol, string LocalAddress, int LocalPort);

/// <summary>ps(1): the processes (of a jail, through jexec).</summary>
public static class Ps
{
    /// <summary>
    /// The command names in <c>ps ax</c> output (FreeBSD columns <c>PID TT STAT TIME COMMAND</c>; busybox ps prints
    /// <c>PID USER COMMAND</c>): for each row, the program of the COMMAND column without its directory, with a
    /// trailing <c>:</c> removed (<c>nginx: master process …</c>), a login shell's leading <c>-</c> removed and
    /// kernel-thread brackets kept off.
    /// </summary>
    /// <param name="output">ps' standard output.</param>
    /// <returns>Program names, one per process row.</returns>
    public static IReadOnlyList<string> ProgramNames(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count == 0)
        {
            return [];
        }

        var header = lines[0].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        var commandColumn = Array.IndexOf(header, "COMMAND");
        if (commandColumn < 0)
        {
            commandColumn = Array.IndexOf(header, "CMD");
        }

        if (commandColumn < 0)
        {
            throw new FormatException($"'{lines[0]}' is not a ps(1) header with a COMMAND column.");
        }

        var names = new List<string>();
        foreach (var line in lines.Skip(1))
        {
            var fields = Df.Fields(line, commandColumn + 1);
            if (fields.Count <= commandColumn)
            {
                continue;
            }

            var program = fields[commandColumn].Split(' ', 2)[0].Trim('[', ']');
            program = program[(program.LastIndexOf('/') + 1)..].TrimEnd(':').TrimStart('-');
            if (program.Length > 0)
            {
                names.Add(program);
            }
        }

        return names;
    }
}
