using System.Globalization;
using System.Text;
using JailWorkflows.Plans;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>jail.conf(5) blocks for the jails of a plan.</summary>
public static class JailConf
{
    /// <summary>The command that starts a jail from its block (jail.conf(5) <c>exec.start</c>).</summary>
    public const string ExecStart = "/bin/sh /etc/rc";

    /// <summary>The command that stops it (<c>exec.stop</c>).</summary>
    public const string ExecStop = "/bin/sh /etc/rc.shutdown";

    /// <summary>The per-jail file: <c>&lt;jailConfDir&gt;/&lt;name&gt;.conf</c>.</summary>
    /// <param name="jailConfDir">The directory (<see cref="JailHostSpec.JailConfDir"/>).</param>
    /// <param name="root">The jail root (its name names the file).</param>
    /// <returns>The path.</returns>
    public static string FilePath(string jailConfDir, JailRoot root)
    {
        ArgumentNullException.ThrowIfNull(root);
        return JailRoot.ValidateDirectory(jailConfDir, nameof(jailConfDir)) + "/" + root.JailName + ".conf";
    }

    /// <summary>
    /// The jail's block:
    /// <code>
    /// name {
    ///     path = "/data/jails/name";
    ///     host.hostname = "name.example.org";
    ///     ip4.addr = "10.0.0.5";
    ///     exec.start = "/bin/sh /etc/rc";
    ///     exec.stop = "/bin/sh /etc/rc.shutdown";
    ///     mount.devfs;
    ///     exec.clean;
    /// }
    /// </code>
    /// Values are double-quoted; characters jail.conf(5) would interpret inside double quotes (<c>"</c>, <c>\</c>,
    /// <c>$</c>) and control characters are refused rather than escaped. <c>mount.devfs</c> applies the default
    /// jail ruleset 4 (devfsrules_jail).
    /// </summary>
    /// <param name="jail">The jail (name, hostname, IPv4 address).</param>
    /// <param name="root">Its jail root; <see cref="JailRoot.JailName"/> must equal the jail's name.</param>
    /// <returns>The block, ending with a newline.</returns>
    /// <exception cref="ArgumentException">The names differ, the hostname is not a host name, the IP is not IPv4,
    /// or a value holds characters that cannot be put in a jail.conf string.</exception>
    public static string Render(JailSpec jail, JailRoot root)
    {
        ArgumentNullException.ThrowIfNull(jail);
        ArgumentNullException.ThrowIfNull(root);
        if (jail.Name != root.JailName)
        {
            throw new ArgumentException($"The jail '{jail.Name}' does not own the jail root {root.Path}.", nameof(root));
        }

        if (!NetworkNames.IsHostName(jail.Hostname))
        {
            throw new ArgumentException($"'{jail.Hostname}' is not a host name.", nameof(jail));
        }

        if (!NetworkNames.IsIPv4(jail.Ip))
        {
            throw new ArgumentException($"'{jail.Ip}' is not an IPv4 address.", nameof(jail));
        }

        var sb = new StringBuilder();
        sb.Append(root.JailName).Append(" {\n");
        Param(sb, "path", root.Path);
        Param(sb, "host.hostname", jail.Hostname);
        Param(sb, "ip4.addr", jail.Ip);
        Param(sb, "exec.start", ExecStart);
        Param(sb, "exec.stop", ExecStop);
        sb.Append("\tmount.devfs;\n");
        sb.Append("\texec.clean;\n");
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>A jail.conf(5) double-quoted string holding <paramref name="value"/> verbatim.</summary>
    /// <param name="value">The value.</param>
    /// <returns><c>"value"</c>.</returns>
    /// <exception cref="ArgumentException">The value holds <c>"</c>, <c>\</c>, <c>$</c> or a control character.</exception>
    public static string Quote(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Any(c => c is '"' or '\\' or '$' || char.IsControl(c)))
        {
            throw new ArgumentException($"'{value}' holds characters that jail.conf(5) would interpret inside a string (\", \\, $ or control characters).", nameof(value));
        }

        return "\"" + value + "\"";
    }

    private static void Param(StringBuilder sb, string name, string value) =>
        sb.Append('\t').Append(name).Append(" = ").Append(Quote(value)).Append(";\n");
}

/// <summary>jail(8) with a jail.conf(5) file.</summary>
public static class Jail
{
    /// <summary><c>jail -f &lt;conf&gt; -c &lt;name&gt;</c>: create (start) the jail defined in <paramref name="confPath"/>.</summary>
    /// <param name="confPath">Absolute path of the jail.conf file.</param>
    /// <param name="name">The jail name.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">A relative path or an invalid jail name.</exception>
    public static ShellCommand Create(string confPath, string name) => Build(confPath, "-c", name);

    /// <summary><c>jail -f &lt;conf&gt; -r &lt;name&gt;</c>: remove (stop) the jail, running its <c>exec.stop</c>.</summary>
    /// <param name="confPath">Absolute path of the jail.conf file.</param>
    /// <param name="name">The jail name.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">A relative path or an invalid jail name.</exception>
    public static ShellCommand Remove(string confPath, string name) => Build(confPath, "-r", name);

    internal static string RequireName(string name)
    {
        if (!JailRoot.IsValidJailName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid jail name.", nameof(name));
        }

        return name;
    }

    private static ShellCommand Build(string confPath, string action, string name)
    {
        ArgumentNullException.ThrowIfNull(confPath);
        if (!confPath.StartsWith('/'))
        {
            throw new ArgumentException($"'{confPath}' is not an absolute path.", nameof(confPath));
        }

        return ShellCommand.Of("jail", "-f", confPath, action, RequireName(name));
    }
}

/// <summary>jls(8): the running jails.</summary>
public static class Jls
{
    /// <summary>
    /// The parameters asked of jls(8), in this order: <c>jid ip4.addr host.hostname path</c>. Asked by name because the
    /// default columns cut the path at 74 characters (and the hostname at 29); with parameters jls prints each whole,
    /// separated by spaces, with no header (<c>ip4.addr</c> is <c>-</c> or a comma-separated list).
    /// </summary>
    public static IReadOnlyList<string> Parameters { get; } = ["jid", "ip4.addr", "host.hostname", "path"];

    /// <summary><c>jls -j &lt;name&gt; jid ip4.addr host.hostname path</c>: the one jail (see <see cref="Parameters"/>); exits 1 with
    /// <c>jls: jail "name" not found</c> when it is not running.</summary>
    /// <param name="name">The jail name.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">An invalid jail name.</exception>
    public static ShellCommand ForJail(string name) => ShellCommand.Of("jls", ["-j", Jail.RequireName(name), .. Parameters]);

    /// <summary><c>jls jid ip4.addr host.hostname path</c>: every running jail (see <see cref="Parameters"/>).</summary>
    /// <returns>The command.</returns>
    public static ShellCommand All() => ShellCommand.Of("jls", Parameters);

    /// <summary>Whether jls' standard error says the jail does not exist (<c>jail "x" not found</c>).</summary>
    /// <param name="stderr">Standard error.</param>
    /// <returns>True when not found.</returns>
    public static bool ReportsNotFound(string stderr) =>
        stderr is not null && stderr.Contains("not found", StringComparison.Ordinal);

    /// <summary>
    /// Reads jls' output: either the parameters of <see cref="ForJail"/> and <see cref="All"/> (no header; <c>jid ip4.addr
    /// host.hostname path</c>, the path being the rest of the line), or the default output, a header
    /// <c>   JID  IP Address      Hostname                      Path</c> and rows printed <c>%6d  %-15.15s %-29.29s %.74s</c> (IP
    /// and hostname truncated to their columns, path to 74 characters; the IP column is blank or <c>-</c> for a jail without IPv4).
    /// </summary>
    /// <param name="output">jls' standard output.</param>
    /// <returns>One entry per row, in order.</returns>
    /// <exception cref="FormatException">A row is not in jls' format.</exception>
    public static IReadOnlyList<JailListing> Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var result = new List<JailListing>();
        var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
        var defaultColumns = lines.Count > 0 && lines[0].Trim().StartsWith("JID", StringComparison.Ordinal);
        foreach (var line in lines.Skip(defaultColumns ? 1 : 0))
        {
            result.Add(defaultColumns ? ParseRow(line) : ParseParameters(line));
        }

        return result;
    }

    private static JailListing ParseParameters(string line)
    {
        var words = line.Trim().Split(' ', 4, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 4 && int.TryParse(words[0], NumberStyles.None, CultureInfo.InvariantCulture, out var jid))
        {
            return new JailListing(jid, Ip(words[1].Split(',')[0]), words[2], words[3].Trim());
        }

        throw new FormatException($"'{line}' is not a jls(8) row of jid, ip4.addr, host.hostname and path.");
    }

    private static JailListing ParseRow(string line)
    {
        // Exact columns first: JID 0-5, IP 8-22, hostname 24-52, path from 54.
        if (line.Length > 54 && line[6] == ' ' && line[7] == ' ' && line[23] == ' ' && line[53] == ' '
            && int.TryParse(line[..6], NumberStyles.AllowLeadingWhite, CultureInfo.InvariantCulture, out var jid))
        {
            return new JailListing(jid, Ip(line[8..23].Trim()), line[24..53].Trim(), line[54..].Trim());
        }

        // Otherwise by words (hostnames and our jail paths have no blanks): JID [IP] hostname path.
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length is 3 or 4 && int.TryParse(words[0], NumberStyles.None, CultureInfo.InvariantCulture, out jid))
        {
            return words.Length == 4
                ? new JailListing(jid, Ip(words[1]), words[2], words[3])
                : new JailListing(jid, string.Empty, words[1], words[2]);
        }

        throw new FormatException($"'{line}' is not a jls(8) row (JID, IP address, hostname, path).");
    }

    private static string Ip(string column) => column == "-" ? string.Empty : column;
}

/// <summary>One running jail as jls(8) lists it.</summary>
/// <param name="Jid">The jail ID.</param>
/// <param name="Ip">The first IPv4 address, or empty when none.</param>
/// <param name="Hostname">The hostname (whole when asked by parameter; at most 29 characters in the default output).</param>
/// <param name="Path">The jail's root path (whole when asked by parameter; at most 74 characters in the default output).</param>
public sealed record JailListing(int Jid, string Ip, string Hostname, string Path);

/// <summary>jexec(8): run a command inside a running jail.</summary>
public static class Jexec
{
    /// <summary><c>jexec &lt;name&gt; &lt;argv…&gt;</c>.</summary>
    /// <param name="name">The jail name.</param>
    /// <param name="argv">The command inside the jail, program first (e.g. <c>/bin/sh</c>, <c>-c</c>, <c>true</c>).</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">An invalid jail name or an empty argv.</exception>
    public static ShellCommand Command(string name, IReadOnlyList<string> argv)
    {
        ArgumentNullException.ThrowIfNull(argv);
        if (argv.Count == 0)
        {
            throw new ArgumentException("jexec needs a command.", nameof(argv));
        }

        return ShellCommand.FromArgv([(string)"jexec", Jail.RequireName(name), .. argv]);
    }
}
