using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// The jail rc.d script through service(8) (<c>/etc/rc.d/jail</c>, FreeBSD 13 and later). For a named jail it takes
/// its configuration from, in order: rc.conf's <c>jail_&lt;name&gt;_conf</c> (default <c>/etc/jail.&lt;name&gt;.conf</c>),
/// <c>/etc/jail.conf.d/&lt;name&gt;.conf</c>, then <c>jail_conf</c> (default <c>/etc/jail.conf</c>), and runs
/// <c>jail -i -f &lt;that file&gt; -c &lt;name&gt;</c>. It prints <c>cannot start jail "name":</c> and still exits 0 when
/// jail(8) fails, and <c>Cannot 'start' jail. Set jail_enable to YES…</c> (exit 0) when jails are not enabled:
/// <c>jls -j &lt;name&gt;</c> is the judge.
/// </summary>
public static class RcdJail
{
    /// <summary><c>service jail start &lt;name&gt;</c>.</summary>
    /// <param name="name">The jail name.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">An invalid jail name.</exception>
    public static ShellCommand Start(string name) => ShellCommand.Of("service", "jail", "start", Jail.RequireName(name));

    /// <summary><c>service jail stop &lt;name&gt;</c>: runs the jail's <c>exec.stop</c> and removes it (<c>jail -r</c>).</summary>
    /// <param name="name">The jail name.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">An invalid jail name.</exception>
    public static ShellCommand Stop(string name) => ShellCommand.Of("service", "jail", "stop", Jail.RequireName(name));

    /// <summary>
    /// <c>service jail oneconfig &lt;name&gt;</c>: prints <c>&lt;name&gt;: parameters are in &lt;file&gt;.</c>, the file rc.d/jail
    /// would start the jail from, and changes nothing (the <c>one</c> prefix works whether or not jail_enable is set).
    /// Read it with <see cref="ParseConfig"/>.
    /// </summary>
    /// <param name="name">The jail name.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">An invalid jail name.</exception>
    public static ShellCommand Config(string name) => ShellCommand.Of("service", "jail", "oneconfig", Jail.RequireName(name));

    /// <summary>The configuration file in <see cref="Config"/>'s output, or null when rc.d/jail has none for the jail
    /// (it then warns <c>Invalid configuration for &lt;name&gt; … was ignored</c>).</summary>
    /// <param name="output">Standard output of <c>service jail oneconfig &lt;name&gt;</c>.</param>
    /// <param name="name">The jail name.</param>
    /// <returns>The absolute path, or null.</returns>
    public static string? ParseConfig(string output, string name)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(name);
        var prefix = name + ": parameters are in ";
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith(prefix, StringComparison.Ordinal) && line.EndsWith('.'))
            {
                var path = line[prefix.Length..^1];
                return path.StartsWith('/') ? path : null;
            }
        }

        return null;
    }
}
