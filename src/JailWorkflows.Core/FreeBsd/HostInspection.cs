using System.Globalization;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

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
            var fields = Fields(line, commandColumn + 1);
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
    /// <summary>Splits a line into at most <paramref name="count"/> blank-separated fields; the last takes the rest.</summary>
    private static List<string> Fields(string line, int count)
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
