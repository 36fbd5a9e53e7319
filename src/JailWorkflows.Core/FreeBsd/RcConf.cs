using System.Text.RegularExpressions;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// Reduces a server's rc.conf(5) to what its jail needs (FREEBSD.md, "The strip step"). The rules, in order:
/// <list type="number">
/// <item>Host-only settings are removed, enabled or not: interfaces and routes (<c>ifconfig_*</c>,
/// <c>defaultrouter</c>, <c>static_routes</c>, <c>route_*</c>, <c>gateway_*</c>, <c>ipv6_*</c>,
/// <c>network_interfaces</c>…), <c>hostname</c> (jail.conf sets it), firewalls (<c>firewall_*</c>, <c>pf_*</c>,
/// <c>ipfw_*</c>, <c>ipfilter_*</c>, <c>natd_*</c>…), time (<c>ntpd_*</c>, <c>ntpdate_*</c>: a jail cannot set the
/// clock), power, console and mouse (<c>powerd_*</c>, <c>apm*</c>, <c>moused_*</c>, <c>keymap*</c>, <c>keyrate</c>,
/// <c>font*</c>, <c>saver</c>, <c>blanktime</c>…), storage and kernel (<c>zfs_*</c>, <c>fsck_*</c>, <c>dumpdev</c>,
/// <c>swapfile</c>, <c>kld_list</c>, <c>devd_*</c>…), network sysctls (<c>tcp_*</c>, <c>icmp_*</c>, <c>log_in_vain</c>…)
/// and <c>jail_*</c> (no jails inside the jail). See <see cref="HostOnlyPatterns"/>.</item>
/// <item>Every other <c>&lt;service&gt;_enable</c> line stays, whatever its value.</item>
/// <item>A setting belongs to service S when its name starts with <c>S_</c> (the longest such S with an
/// <c>S_enable</c> line): it stays when S is enabled (the last <c>S_enable</c> is YES/TRUE/ON/1, any case, quoted
/// or not, as rc.subr's checkyesno reads it) and is removed when S is not enabled.</item>
/// <item>A setting of no service with an <c>_enable</c> line in the file stays: it may configure a service enabled
/// in <c>/etc/defaults/rc.conf</c> (<c>syslogd_flags="-ss"</c>, <c>sendmail_*</c>) or be a global one.</item>
/// <item>Comments and blank lines stay (they document the admin's intent and change nothing). Lines that are not
/// assignments (shell code) stay too, and are listed in <see cref="RcConfReduction.Unrecognised"/> for a person.</item>
/// </list>
/// <c>sshd_*</c> stays: sshd in a jail is an ordinary service listening on the jail's address (the host's own
/// sshd must then listen on the host's addresses only). Reduction is idempotent.
/// </summary>
public static partial class RcConf
{
    /// <summary>Host-only variable names (<c>*</c> matches any characters); matched against the whole name.</summary>
    public static IReadOnlyList<string> HostOnlyPatterns { get; } =
    [
        // interfaces, addresses, routes
        "ifconfig_*", "ipv4_addrs_*", "ipv6_*", "defaultrouter", "gateway_*", "static_routes", "route_*",
        "network_interfaces", "cloned_interfaces", "wlans_*", "create_args_*", "dhclient_*", "router", "router_*",
        "rtsold_*", "rtadvd_*", "ppp_*", "arpproxy_all", "forward_sourceroute", "accept_sourceroute", "hostname",
        // firewalls and NAT
        "firewall_*", "pf_*", "pflog_*", "pfsync_*", "ipfw_*", "ipfilter_*", "ipnat_*", "ipmon_*", "natd_*", "ipsec_*",
        // time
        "ntpd_*", "ntpdate_*",
        // power, console, keyboard, mouse
        "powerd_*", "apm_*", "apmd_*", "moused_*", "mousechar_start", "syscons*", "keymap*", "keyrate", "keybell",
        "keychange", "font*", "saver", "blanktime", "scrnmap", "cursor", "allscreens_*",
        // storage, kernel, hardware
        "zfs_*", "fsck_*", "background_fsck*", "dumpdev", "dumpdir", "savecore_*", "swapfile", "kld_list",
        "kldxref_*", "linux_enable", "devd_*", "usbd_*", "pccard_*", "microcode_update_*",
        // network sysctls a jail cannot set
        "tcp_*", "icmp_*", "log_in_vain",
        // jails inside the jail
        "jail_*",
    ];

    private static readonly Regex HostOnly = new(
        "^(?:" + string.Join('|', HostOnlyPatterns.Select(p => Regex.Escape(p).Replace(@"\*", "[A-Za-z0-9_]*", StringComparison.Ordinal))) + ")$",
        RegexOptions.CultureInvariant);

    /// <summary>Reduces rc.conf text (see the type's rules).</summary>
    /// <param name="rcConf">The file's text (LF or CRLF line ends; kept as they are).</param>
    /// <returns>The text to keep and every line removed, with the reason.</returns>
    public static RcConfReduction Reduce(string rcConf)
    {
        ArgumentNullException.ThrowIfNull(rcConf);
        var entries = Read(rcConf);

        // Last value of each S_enable among the lines that survive the host-only rule.
        var enables = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var e in entries.Where(e => e.Name is not null && !HostOnly.IsMatch(e.Name) && e.Name.EndsWith("_enable", StringComparison.Ordinal)))
        {
            enables[e.Name![..^"_enable".Length]] = IsYes(e.Value);
        }

        var kept = new List<string>();
        var removed = new List<RcConfLine>();
        var unrecognised = new List<RcConfLine>();
        foreach (var e in entries)
        {
            string? reason = null;
            if (e.Name is null)
            {
                if (!e.IsCommentOrBlank)
                {
                    unrecognised.Add(new RcConfLine(e.LineNumber, e.Text, "not a variable assignment; kept, check by hand"));
                }
            }
            else if (HostOnly.IsMatch(e.Name))
            {
                reason = "host-only setting (interfaces, routes, firewall, time, console, power, storage or kernel): the jail host or jail.conf handles it";
            }
            else if (!e.Name.EndsWith("_enable", StringComparison.Ordinal))
            {
                var service = enables.Keys
                    .Where(s => e.Name.StartsWith(s + "_", StringComparison.Ordinal))
                    .OrderByDescending(s => s.Length)
                    .FirstOrDefault();
                if (service is not null && !enables[service])
                {
                    reason = $"setting of service '{service}', which is not enabled";
                }
            }

            if (reason is null)
            {
                kept.Add(e.Text);
            }
            else
            {
                removed.Add(new RcConfLine(e.LineNumber, e.Text.TrimEnd('\r'), reason));
            }
        }

        return new RcConfReduction(string.Join('\n', kept), removed, unrecognised);
    }

    /// <summary>
    /// The services an rc.conf enables: every <c>&lt;service&gt;_enable</c> whose last assignment is yes for
    /// <see cref="IsYes"/>, in the order of their first appearance. Only this file counts: a service enabled by
    /// <c>/etc/defaults/rc.conf</c> alone (e.g. syslogd) is not listed.
    /// </summary>
    /// <param name="rcConf">The file's text.</param>
    /// <returns>The enabled services, each with whether it is host-only (dropped from a jail's rc.conf by <see cref="Reduce"/>).</returns>
    public static IReadOnlyList<RcConfService> EnabledServices(string rcConf)
    {
        ArgumentNullException.ThrowIfNull(rcConf);
        var last = new Dictionary<string, bool>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var e in Read(rcConf).Where(e => e.Name is not null && e.Name.EndsWith("_enable", StringComparison.Ordinal) && e.Name.Length > "_enable".Length))
        {
            var service = e.Name![..^"_enable".Length];
            if (!last.ContainsKey(service))
            {
                order.Add(service);
            }

            last[service] = IsYes(e.Value);
        }

        return order.Where(s => last[s]).Select(s => new RcConfService(s, HostOnly.IsMatch(s + "_enable"))).ToList();
    }

    /// <summary>rc.subr(8) checkyesno: YES, TRUE, ON or 1 in any case means enabled.</summary>
    /// <param name="value">The unquoted value.</param>
    /// <returns>True when enabled.</returns>
    public static bool IsYes(string? value) =>
        value is not null && (value.Equals("YES", StringComparison.OrdinalIgnoreCase) || value.Equals("TRUE", StringComparison.OrdinalIgnoreCase)
            || value.Equals("ON", StringComparison.OrdinalIgnoreCase) || value == "1");

    private static List<Entry> Read(string text)
    {
        var lines = text.Split('\n');
        var entries = new List<Entry>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                entries.Add(new Entry(i + 1, line, null, null, IsCommentOrBlank: true));
                continue;
            }

            var m = AssignmentPattern().Match(trimmed);
            if (!m.Success)
            {
                entries.Add(new Entry(i + 1, line, null, null, IsCommentOrBlank: false));
                continue;
            }

            // A quoted value may continue on following lines: keep them together as one entry.
            var start = i;
            var logical = line;
            var rest = m.Groups["rest"].Value;
            while (Unterminated(rest) && i + 1 < lines.Length)
            {
                i++;
                logical += "\n" + lines[i];
                rest += "\n" + lines[i];
            }

            entries.Add(new Entry(start + 1, logical, m.Groups["name"].Value, Value(rest), IsCommentOrBlank: false));
        }

        return entries;
    }

    private static bool Unterminated(string rest)
    {
        rest = rest.TrimStart();
        if (rest.Length == 0 || (rest[0] != '"' && rest[0] != '\''))
        {
            return false;
        }

        var quote = rest[0];
        for (var i = 1; i < rest.Length; i++)
        {
            if (quote == '"' && rest[i] == '\\')
            {
                i++;
            }
            else if (rest[i] == quote)
            {
                return false;
            }
        }

        return true;
    }

    private static string Value(string rest)
    {
        rest = rest.TrimStart();
        if (rest.Length > 0 && (rest[0] == '"' || rest[0] == '\''))
        {
            var end = rest.IndexOf(rest[0], 1);
            return end < 0 ? rest[1..] : rest[1..end];
        }

        var stop = rest.IndexOfAny([' ', '\t', '#', ';', '\r']);
        return stop < 0 ? rest : rest[..stop];
    }

    [GeneratedRegex(@"^(?:export\s+)?(?<name>[A-Za-z_][A-Za-z0-9_]*)=(?<rest>.*)$", RegexOptions.Singleline)]
    private static partial Regex AssignmentPattern();

    private sealed record Entry(int LineNumber, string Text, string? Name, string? Value, bool IsCommentOrBlank);
}

/// <summary>The result of <see cref="RcConf.Reduce"/>.</summary>
/// <param name="Kept">The reduced rc.conf text (line ends as in the input).</param>
/// <param name="Removed">Every removed line, in order, with its 1-based line number and reason (log each one).</param>
/// <param name="Unrecognised">Lines that are not assignments (shell code): kept, listed for a person.</param>
public sealed record RcConfReduction(string Kept, IReadOnlyList<RcConfLine> Removed, IReadOnlyList<RcConfLine> Unrecognised);

/// <summary>A service enabled in rc.conf (<see cref="RcConf.EnabledServices"/>).</summary>
/// <param name="Name">The service, e.g. <c>apache</c> for <c>apache_enable="YES"</c>.</param>
/// <param name="HostOnly">True for host-only services (<c>ntpd</c>, <c>firewall</c>, <c>moused</c>…) that a jail does not run.</param>
public sealed record RcConfService(string Name, bool HostOnly);

/// <summary>An rc.conf line and why it was singled out.</summary>
/// <param name="LineNumber">1-based line number in the input.</param>
/// <param name="Text">The line (a multi-line quoted value is one entry with embedded newlines).</param>
/// <param name="Reason">Why.</param>
public sealed record RcConfLine(int LineNumber, string Text, string Reason);

/// <summary>fstab(5) inside a jail: nothing is mounted by the jail itself.</summary>
public static class Fstab
{
    /// <summary>The whole content of an emptied fstab: a comment that says why, and no entries.</summary>
    public const string EmptiedText =
        "# Emptied by JailWorkflows when this server became a jail: a jail mounts nothing itself.\n" +
        "# The server's original fstab is kept with the /etc backup on the jail host.\n";

    /// <summary>
    /// The fstab a jail gets: no entries at all (<see cref="EmptiedText"/>); idempotent. Not merely commented out:
    /// mergemaster(8) exits 1 when the word <c>nodev</c> appears anywhere in <c>&lt;DESTDIR&gt;/etc/fstab</c>, comments
    /// included, and 4.x fstabs often have an mfs <c>/tmp</c> with <c>nodev</c>.
    /// </summary>
    /// <param name="fstab">The file's text (ignored: the result does not depend on it).</param>
    /// <returns><see cref="EmptiedText"/>.</returns>
    public static string Emptied(string fstab)
    {
        ArgumentNullException.ThrowIfNull(fstab);
        return EmptiedText;
    }

    /// <summary>The entry lines (neither blank nor comments) of an fstab, for the journal.</summary>
    /// <param name="fstab">The file's text.</param>
    /// <returns>The entries, trimmed.</returns>
    public static IReadOnlyList<string> Entries(string fstab)
    {
        ArgumentNullException.ThrowIfNull(fstab);
        return fstab.Split('\n').Select(l => l.Trim()).Where(t => t.Length > 0 && !t.StartsWith('#')).ToList();
    }
}
