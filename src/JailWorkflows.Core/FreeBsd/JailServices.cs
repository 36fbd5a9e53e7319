using System.Collections.Frozen;
using System.Text.RegularExpressions;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// The services a jail runs, as its rc.conf(5) enables them, and what it takes to call one "up": a process of
/// the service inside the jail, a socket listening on the jail's address, and for web servers an HTTP answer.
/// </summary>
public static partial class JailServices
{
    private static readonly FrozenDictionary<string, ServiceProfile> Profiles = new ServiceProfile[]
    {
        new("apache", ["httpd"], [80], IsWebServer: true),
        new("apache2", ["httpd"], [80], IsWebServer: true),
        new("apache22", ["httpd"], [80], IsWebServer: true),
        new("apache24", ["httpd"], [80], IsWebServer: true),
        new("httpd", ["httpd"], [80], IsWebServer: true),
        new("nginx", ["nginx"], [80], IsWebServer: true),
        new("lighttpd", ["lighttpd"], [80], IsWebServer: true),
        new("sshd", ["sshd"], [22], IsWebServer: false),
        new("samba", ["smbd", "nmbd"], [139, 445], IsWebServer: false),
        new("samba_server", ["smbd", "nmbd"], [139, 445], IsWebServer: false),
        new("smbd", ["smbd"], [139, 445], IsWebServer: false),
        new("mysql", ["mysqld"], [3306], IsWebServer: false),
        new("postgresql", ["postgres", "postmaster"], [5432], IsWebServer: false),
        new("sendmail", ["sendmail"], [25], IsWebServer: false),
        new("postfix", ["master"], [25], IsWebServer: false),
        new("named", ["named"], [53], IsWebServer: false),
        new("dovecot", ["dovecot"], [110, 143], IsWebServer: false),
        new("proftpd", ["proftpd"], [21], IsWebServer: false),
        new("inetd", ["inetd"], [], IsWebServer: false),
        new("cron", ["cron"], [], IsWebServer: false),
        new("syslogd", ["syslogd"], [], IsWebServer: false),
    }.ToFrozenDictionary(p => p.Service, StringComparer.Ordinal);

    /// <summary>
    /// The services a jail's rc.conf enables: every <c>&lt;service&gt;_enable</c> whose last assignment is YES (rc.subr's
    /// checkyesno: YES, TRUE, ON, 1 in any case), in the order of their first line. Host-only settings that a jail
    /// does not run (<see cref="RcConf.HostOnlyPatterns"/>, e.g. <c>ntpd_enable</c>, <c>firewall_enable</c>) and
    /// <c>sendmail_enable="NONE"</c> are not services of the jail.
    /// </summary>
    /// <param name="rcConf">The jail's <c>etc/rc.conf</c>.</param>
    /// <returns>The enabled service names (e.g. <c>apache</c>, <c>sshd</c>).</returns>
    public static IReadOnlyList<string> Enabled(string rcConf)
    {
        ArgumentNullException.ThrowIfNull(rcConf);
        var hostOnly = new Regex(
            "^(?:" + string.Join('|', RcConf.HostOnlyPatterns.Select(p => Regex.Escape(p).Replace(@"\*", "[A-Za-z0-9_]*", StringComparison.Ordinal))) + ")$",
            RegexOptions.CultureInvariant);
        var order = new List<string>();
        var value = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var raw in rcConf.Split('\n'))
        {
            var m = EnableLine().Match(raw.Trim());
            if (!m.Success)
            {
                continue;
            }

            var name = m.Groups["service"].Value;
            if (hostOnly.IsMatch(name + "_enable"))
            {
                continue;
            }

            if (!value.ContainsKey(name))
            {
                order.Add(name);
            }

            value[name] = RcConf.IsYes(m.Groups["value"].Value);
        }

        return order.Where(s => value[s]).ToList();
    }

    /// <summary>What makes <paramref name="service"/> "up": its process names and TCP ports, and whether it is a web server.</summary>
    /// <param name="service">The rc.conf service name (the part before <c>_enable</c>).</param>
    /// <returns>A known profile (apache*, httpd, nginx, lighttpd, sshd, samba, mysql, postgresql, sendmail, postfix,
    /// named, dovecot, proftpd, inetd, cron, syslogd), else one with the service name as process name and no port.</returns>
    public static ServiceProfile Profile(string service)
    {
        ArgumentNullException.ThrowIfNull(service);
        if (Profiles.TryGetValue(service, out var known))
        {
            return known;
        }

        // apache13, apache20, nginx_devel …: the family decides.
        var family = Profiles.Values.FirstOrDefault(p => p.IsWebServer && service.StartsWith(p.Service, StringComparison.Ordinal));
        return family is not null ? family with { Service = service } : new ServiceProfile(service, [service], [], IsWebServer: false);
    }

    /// <summary>
    /// The rc.d scripts that could start <paramref name="service"/> inside a jail root: <c>etc/rc.d/&lt;s&gt;</c>,
    /// <c>usr/local/etc/rc.d/&lt;s&gt;</c> and the 4.x-style <c>usr/local/etc/rc.d/&lt;s&gt;.sh</c>.
    /// </summary>
    /// <param name="root">The jail root.</param>
    /// <param name="service">The service.</param>
    /// <returns>Absolute paths on the jail host.</returns>
    /// <exception cref="ArgumentException">The service name is not a shell-safe rc.conf name.</exception>
    public static IReadOnlyList<string> ScriptCandidates(JailRoot root, string service)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (!ServiceName().IsMatch(service ?? string.Empty))
        {
            throw new ArgumentException($"'{service}' is not an rc.conf service name.", nameof(service));
        }

        return [root.Combine("etc/rc.d/" + service), root.Combine("usr/local/etc/rc.d/" + service), root.Combine("usr/local/etc/rc.d/" + service + ".sh")];
    }

    [GeneratedRegex(@"^(?:export\s+)?(?<service>[A-Za-z_][A-Za-z0-9_]*)_enable=(?<q>[""']?)(?<value>[^""'\s#;]*)\k<q>")]
    private static partial Regex EnableLine();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex ServiceName();
}

/// <summary>What it takes for a service of a jail to be up.</summary>
/// <param name="Service">The rc.conf service name.</param>
/// <param name="ProcessNames">Program names (as ps shows them) of which one must run inside the jail.</param>
/// <param name="TcpPorts">Ports of which one must listen on the jail's address; empty when the service has no known port.</param>
/// <param name="IsWebServer">A web server (apache*, httpd, nginx, lighttpd): it must also answer HTTP on the jail's address.</param>
public sealed record ServiceProfile(string Service, IReadOnlyList<string> ProcessNames, IReadOnlyList<int> TcpPorts, bool IsWebServer);
