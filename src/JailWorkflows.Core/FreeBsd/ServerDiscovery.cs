using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using JailWorkflows.Plans;

namespace JailWorkflows.FreeBsd;

/// <summary>What <c>jailwf discover</c> read from a source server, before it becomes a plan.</summary>
public sealed record ServerInventory
{
    /// <summary>How the server was reached: address, port, user, key file, the host key it presented (pinned for the
    /// reading), and whether legacy algorithms were needed.</summary>
    public required SshEndpoint Ssh { get; init; }

    /// <summary>The server's SSH identification string, e.g. <c>SSH-2.0-OpenSSH_3.8.1p1 FreeBSD-20040419</c>; empty when unknown.</summary>
    public string ServerVersion { get; init; } = string.Empty;

    /// <summary>Its release (<c>uname -r</c>).</summary>
    public required FreeBsdRelease Release { get; init; }

    /// <summary>Its host name (<c>uname -n</c>), e.g. <c>ServerA.example.org</c>.</summary>
    public required string Hostname { get; init; }

    /// <summary>Its mounted file systems (<c>mount -p</c>).</summary>
    public required IReadOnlyList<MountEntry> Mounts { get; init; }

    /// <summary>Size and use of its UFS partitions (<c>df -k</c>); empty when unknown.</summary>
    public IReadOnlyList<DfEntry> DiskUsage { get; init; } = [];

    /// <summary>Its network interfaces (<c>ifconfig -a</c>).</summary>
    public required IReadOnlyList<IfconfigInterface> Interfaces { get; init; }

    /// <summary>The text of its <c>/etc/rc.conf</c>, or null when it could not be read.</summary>
    public string? RcConf { get; init; }

    /// <summary>When it was read (UTC).</summary>
    public required DateTimeOffset DiscoveredAt { get; init; }
}

/// <summary>
/// Turns a <see cref="ServerInventory"/> into a plan for that one server (<c>jailwf discover</c>): the server's
/// SSH endpoint, release and UFS partitions, the jail it becomes, and a jail host with the defaults of a local
/// one (<c>ssh: local</c>) for the operator to fill in. The YAML carries comments saying what was found and what
/// to check or fill in. Pure: no I/O.
/// </summary>
public static partial class ServerDiscovery
{
    /// <summary>The first label of a host name: <c>ServerA</c> for <c>ServerA.example.org</c>.</summary>
    /// <param name="hostname">The host name.</param>
    /// <returns>The short name.</returns>
    public static string ShortHostname(string hostname)
    {
        ArgumentNullException.ThrowIfNull(hostname);
        var trimmed = hostname.Trim();
        var dot = trimmed.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 ? trimmed[..dot] : trimmed;
    }

    /// <summary>
    /// The default jail name: the short host name in lower case, characters jail(8) names do not allow replaced
    /// by <c>_</c> (<c>servera</c> for <c>ServerA.example.org</c>).
    /// </summary>
    /// <param name="hostname">The server's host name.</param>
    /// <returns>A valid jail name (<c>jail</c> when nothing usable is left).</returns>
    public static string DefaultJailName(string hostname)
    {
        var name = NotJailName().Replace(ShortHostname(hostname).ToLowerInvariant(), "_").TrimStart('_', '-');
        name = name.Length > 64 ? name[..64] : name;
        return name.Length == 0 ? "jail" : name;
    }

    /// <summary>
    /// True when an SSH identification string names OpenSSH 3.x or older (FreeBSD 4.x shipped 2.x/3.x): such a
    /// server needs the legacy algorithms (<see cref="SshEndpoint.LegacySsh"/>).
    /// </summary>
    /// <param name="serverVersion">E.g. <c>SSH-2.0-OpenSSH_3.8.1p1 FreeBSD-20040419</c>.</param>
    /// <returns>Whether it is an OpenSSH before 4.0.</returns>
    public static bool IsLegacyOpenSsh(string? serverVersion)
    {
        var m = OpenSshVersion().Match(serverVersion ?? string.Empty);
        return m.Success && int.Parse(m.Groups["major"].Value, CultureInfo.InvariantCulture) < 4;
    }

    /// <summary>
    /// A public key's MD5 fingerprint in the colon-separated hex form older OpenSSH prints
    /// (<c>ssh-keygen -l -f key.pub</c> on FreeBSD 4.x shows only this form, without the <c>MD5:</c> prefix).
    /// For comparing by eye only; the plan pins the key itself.
    /// </summary>
    /// <param name="hostKey"><c>&lt;type&gt; &lt;base64&gt;</c>.</param>
    /// <returns><c>MD5:</c> and 16 hex bytes separated by colons.</returns>
    /// <exception cref="ArgumentException">Not a valid public key.</exception>
    public static string Md5Fingerprint(string hostKey)
    {
        if (!KnownHosts.TryNormalizeHostKey(hostKey, out var normalized, out var error))
        {
            throw new ArgumentException(error, nameof(hostKey));
        }

        var blob = Convert.FromBase64String(normalized[(normalized.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
#pragma warning disable CA5351 // MD5 only reproduces the fingerprint old ssh-keygen prints, for a person to compare; nothing is secured by it.
        var hash = MD5.HashData(blob);
#pragma warning restore CA5351
        return "MD5:" + string.Join(':', hash.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }

    /// <summary>Where sshd(8) keeps the public half of a host key of this type on FreeBSD (<c>/etc/ssh/ssh_host_rsa_key.pub</c>…).</summary>
    /// <param name="hostKey"><c>&lt;type&gt; &lt;base64&gt;</c>, or only the type.</param>
    /// <returns>The path, for <c>ssh-keygen -l -f</c> on the server's console.</returns>
    public static string HostKeyPath(string hostKey)
    {
        ArgumentNullException.ThrowIfNull(hostKey);
        return hostKey.Split(' ', 2)[0] switch
        {
            "ssh-rsa" => "/etc/ssh/ssh_host_rsa_key.pub",
            "ssh-dss" => "/etc/ssh/ssh_host_dsa_key.pub",
            "ssh-ed25519" => "/etc/ssh/ssh_host_ed25519_key.pub",
            _ => "/etc/ssh/ssh_host_ecdsa_key.pub",
        };
    }

    /// <summary>The server entry of the plan.</summary>
    /// <param name="inventory">What was read.</param>
    /// <param name="jailName">The jail name, or null for <see cref="DefaultJailName"/>.</param>
    /// <param name="jailIp">The jail's IPv4 address, or null for the server's own primary address (<see cref="Ifconfig.PrimaryAddress"/>).</param>
    /// <returns>The server: named by its short host name, its partitions the UFS ones of <c>mount -p</c>, parents first.</returns>
    /// <exception cref="ArgumentException">The jail name or IP is not valid, no IP was given and the server has none,
    /// or the server has no UFS <c>/</c> partition.</exception>
    public static SourceServerSpec ToServer(ServerInventory inventory, string? jailName = null, string? jailIp = null)
    {
        ArgumentNullException.ThrowIfNull(inventory);
        var name = jailName ?? DefaultJailName(inventory.Hostname);
        _ = JailRoot.Create("/data/jails", name);
        var ip = jailIp ?? Ifconfig.PrimaryAddress(inventory.Interfaces)?.Address
            ?? throw new ArgumentException($"{inventory.Hostname} has no IPv4 address on an interface that is up (ifconfig -a); give the jail's address with --jail-ip.", nameof(jailIp));
        if (!NetworkNames.IsIPv4(ip))
        {
            throw new ArgumentException($"'{ip}' is not an IPv4 address.", nameof(jailIp));
        }

        var partitions = MountP.ToPartitions(inventory.Mounts);
        if (!partitions.Any(p => p.MountPoint == "/"))
        {
            throw new ArgumentException($"{inventory.Hostname} has no UFS '/' partition in 'mount -p'; a jail root is restored from it.", nameof(inventory));
        }

        var shortName = ShortHostname(inventory.Hostname);
        return new SourceServerSpec
        {
            Name = ServerName().IsMatch(shortName) ? shortName : name,
            Release = inventory.Release.ToString(),
            Ssh = inventory.Ssh,
            Partitions = partitions,
            Jail = new JailSpec
            {
                Name = name,
                Hostname = NetworkNames.IsHostName(inventory.Hostname) ? inventory.Hostname : name,
                Ip = ip,
            },
        };
    }

    /// <summary>The plan: this server and a jail host with the defaults of a local one (<c>ssh: local</c>).</summary>
    /// <param name="inventory">What was read.</param>
    /// <param name="jailName">The jail name, or null for the default.</param>
    /// <param name="jailIp">The jail IP, or null for the server's primary address.</param>
    /// <returns>The plan.</returns>
    /// <exception cref="ArgumentException">As <see cref="ToServer"/>.</exception>
    public static Plan ToPlan(ServerInventory inventory, string? jailName = null, string? jailIp = null)
    {
        var jailHost = new JailHostSpec { TransferKeyFile = "/" };
        return new Plan
        {
            JailHost = jailHost with { TransferKeyFile = jailHost.StateDir + "/" + PlanLoader.DefaultTransferKeyName },
            Servers = [ToServer(inventory, jailName, jailIp)],
        };
    }

    /// <summary>
    /// The plan as YAML (<see cref="PlanWriter"/>) with comments: a header with what was found and what to check
    /// (the host key's fingerprints, to compare out of band), and notes above the fields to fill in or check.
    /// <see cref="PlanLoader"/> reads it as it is.
    /// </summary>
    /// <param name="inventory">What was read.</param>
    /// <param name="jailName">The jail name, or null for the default.</param>
    /// <param name="jailIp">The jail IP, or null for the server's primary address.</param>
    /// <returns>The YAML text.</returns>
    /// <exception cref="ArgumentException">As <see cref="ToServer"/>.</exception>
    public static string ToPlanYaml(ServerInventory inventory, string? jailName = null, string? jailIp = null)
    {
        var plan = ToPlan(inventory, jailName, jailIp);
        var server = plan.Servers[0];
        var ssh = server.Ssh;
        var target = $"{ssh.User}@{ssh.Address}:{ssh.Port.ToString(CultureInfo.InvariantCulture)}";
        var sha256 = Sha256Fingerprint(ssh.HostKey);
        var md5 = Md5Fingerprint(ssh.HostKey);
        var keyFile = HostKeyPath(ssh.HostKey);

        var header = new List<string>
        {
            $"JailWorkflows plan written by 'jailwf discover {target}' at {inventory.DiscoveredAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC.",
            $"Found: FreeBSD {inventory.Release}, host name {inventory.Hostname}, SSH server '{inventory.ServerVersion}'.",
            string.Empty,
            "BEFORE USING THIS PLAN:",
            "1. The server's host key (servers[0].ssh.hostKey) was read over the network and is NOT verified.",
            "   Compare it with the key on the server itself, on its console or another trusted channel:",
            $"     ssh-keygen -l -f {keyFile}",
            $"   must print {sha256} (OpenSSH 6.8 and later)",
            $"   or {md5[4..]} (older OpenSSH, as on FreeBSD 4.x; newer ones print it with -E md5).",
            "   If it differs, someone may be in between: do not use this plan.",
            "2. Fill in the jail host (jailHost): these are the defaults for the machine jailwf runs on ('ssh: local').",
            "3. Check the jail's name, host name and IP (servers[0].jail).",
            "4. Authorize the jail host's transfer key (jailHost.transferKeyFile, its .pub) for root on the server.",
        };

        var used = server.Partitions.Select(p => Usage(inventory, p.MountPoint)).Where(u => u is not null).Sum(u => u!.UsedKiB);
        var comments = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
        {
            ["jailHost"] =
            [
                "FILL IN: the jail host. As written: this machine ('ssh: local') with the default directories.",
                "For a remote jail host replace 'local' by a mapping: address, port, user, keyFile, hostKey, legacySsh.",
            ],
            ["jailHost.jailsDir"] =
            [
                $"Each jail root is <jailsDir>/<jail name>; this server needs about {Size(used)} there (used blocks, df -k).",
            ],
            ["jailHost.transferKeyFile"] =
            [
                "Private key ON THE JAIL HOST its ssh(1) uses for dump | restore; put its public half into root's",
                $"authorized_keys on {ssh.Address}{(ssh.LegacySsh ? " (an RSA key: OpenSSH 3.x takes no ed25519)" : string.Empty)}.",
            ],
            ["jailHost.buildJobs"] = ["make -j for buildworld; 0 = the jail host's CPU count."],
            ["servers"] = [string.Empty, "The source server as discovered; 'jailwf discover' writes one per run, more can be added to this list."],
            ["servers[0].ssh.keyFile"] = ["The engine's private key (authorized for root on the server)."],
            ["servers[0].ssh.hostKey"] =
            [
                $"As presented at discovery, NOT verified: check {sha256} / {md5} (see the top).",
            ],
            ["servers[0].ssh.legacySsh"] = ssh.LegacySsh
                ? ["true: the server speaks only 2004-era SSH algorithms (FreeBSD 4.x, OpenSSH 3.x)."]
                : ["false: the server negotiates modern SSH algorithms."],
            ["servers[0].partitions"] = PartitionComments(inventory, used),
            ["servers[0].jail"] = ServiceComments(inventory),
            ["servers[0].jail.name"] = [jailName is null ? "The short host name in lower case; the jail root is <jailsDir>/<name>." : "Given with --jail-name."],
            ["servers[0].jail.ip"] = IpComments(inventory, jailIp, server.Jail.Ip),
        };
        for (var i = 0; i < server.Partitions.Count; i++)
        {
            var p = server.Partitions[i];
            var u = Usage(inventory, p.MountPoint);
            comments[string.Create(CultureInfo.InvariantCulture, $"servers[0].partitions[{i}]")] =
            [
                u is null
                    ? $"{p.MountPoint} on {p.Device}: size unknown (not in df -k)"
                    : string.Create(CultureInfo.InvariantCulture, $"{p.MountPoint} on {p.Device}: {u.UsedKiB} KiB used of {u.SizeKiB} KiB ({u.CapacityPercent}%), {Size(u.UsedKiB)} to transfer"),
            ];
        }

        var yaml = YamlComments.InsertAbove(PlanWriter.ToYaml(plan), comments);
        var sb = new StringBuilder();
        foreach (var line in header)
        {
            sb.Append(line.Length == 0 ? "#" : "# " + line).Append('\n');
        }

        return sb.Append('\n').Append(yaml).ToString();
    }

    private static string Sha256Fingerprint(string hostKey)
    {
        if (!KnownHosts.TryNormalizeHostKey(hostKey, out var normalized, out var error))
        {
            throw new ArgumentException(error, nameof(hostKey));
        }

        var blob = Convert.FromBase64String(normalized[(normalized.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
        return "SHA256:" + Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');
    }

    private static DfEntry? Usage(ServerInventory inventory, string mountPoint) =>
        inventory.DiskUsage.LastOrDefault(d => d.MountedOn == mountPoint);

    private static List<string> PartitionComments(ServerInventory inventory, long used)
    {
        var lines = new List<string>
        {
            "The UFS partitions of 'mount -p', parents first; sizes from 'df -k'. Remove one to leave it out.",
            $"Together {Size(used)} in use.",
        };
        var ufs = MountP.UfsPartitions(inventory.Mounts);
        var skipped = inventory.Mounts.Where(m => !ufs.Contains(m)).Select(m => m.Device == m.FsType ? $"{m.MountPoint} ({m.FsType})" : $"{m.MountPoint} ({m.FsType} {m.Device})").ToList();
        if (skipped.Count > 0)
        {
            lines.Add("Not transferred (not UFS, or a memory disk): " + string.Join(", ", skipped) + ".");
        }

        return lines;
    }

    private static List<string> ServiceComments(ServerInventory inventory)
    {
        if (inventory.RcConf is null)
        {
            return ["/etc/rc.conf could not be read: check the server's services by hand."];
        }

        var services = RcConf.EnabledServices(inventory.RcConf);
        var kept = services.Where(s => !s.HostOnly).Select(s => s.Name).ToList();
        var dropped = services.Where(s => s.HostOnly).Select(s => s.Name).ToList();
        var lines = new List<string>
        {
            "Enabled services in /etc/rc.conf: " + (kept.Count == 0 ? "(none)" : string.Join(", ", kept)) + " (they run in the jail; verify them after the start).",
        };
        if (dropped.Count > 0)
        {
            lines.Add("Host-only, dropped from the jail's rc.conf: " + string.Join(", ", dropped) + " (the jail host handles them).");
        }

        return lines;
    }

    private static List<string> IpComments(ServerInventory inventory, string? jailIp, string ip)
    {
        var seen = inventory.Interfaces
            .SelectMany(i => i.Addresses.Select(a => string.Create(CultureInfo.InvariantCulture, $"{i.Name} {a.Address}/{a.PrefixLength}")))
            .ToList();
        var lines = new List<string>
        {
            jailIp is null
                ? $"The server's own primary address ({ip}): the jail takes it over once the server is switched off."
                : "Given with --jail-ip.",
            "It must not be in use elsewhere when the jail starts. IPv4 addresses seen on the server: " + (seen.Count == 0 ? "(none)" : string.Join(", ", seen)) + ".",
        };
        return lines;
    }

    private static string Size(long kib) => kib switch
    {
        >= 1024L * 1024 => string.Create(CultureInfo.InvariantCulture, $"{kib / 1024.0 / 1024.0:0.0} GiB"),
        >= 1024 => string.Create(CultureInfo.InvariantCulture, $"{kib / 1024.0:0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{kib} KiB"),
    };

    [GeneratedRegex("[^a-z0-9_-]")]
    private static partial Regex NotJailName();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex ServerName();

    [GeneratedRegex(@"^SSH-[0-9.]+-OpenSSH_(?<major>[0-9]+)\.")]
    private static partial Regex OpenSshVersion();
}
