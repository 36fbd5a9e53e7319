namespace JailWorkflows.Plans;

/// <summary>
/// A consolidation plan (YAML, DESIGN.md D8): one jail host and the legacy source servers to move into
/// jails on it. Loaded and validated by <c>PlanLoader</c>.
/// </summary>
public sealed record Plan
{
    /// <summary>The jail host that receives the jails.</summary>
    public required JailHostSpec JailHost { get; init; }

    /// <summary>The source servers, each becoming one jail.</summary>
    public required IReadOnlyList<SourceServerSpec> Servers { get; init; }

    /// <summary>Finds a server by name (ordinal, case-sensitive).</summary>
    /// <param name="name">The server name as in the plan.</param>
    /// <returns>The server.</returns>
    /// <exception cref="KeyNotFoundException">No server of that name.</exception>
    public SourceServerSpec Server(string name) =>
        Servers.FirstOrDefault(s => s.Name == name)
        ?? throw new KeyNotFoundException($"The plan has no server named '{name}' (it has: {string.Join(", ", Servers.Select(s => s.Name))}).");
}

/// <summary>How the engine reaches a host over SSH, with the host key pinned.</summary>
public sealed record SshEndpoint
{
    /// <summary>IPv4 address or host name.</summary>
    public required string Address { get; init; }

    /// <summary>TCP port; default 22.</summary>
    public int Port { get; init; } = 22;

    /// <summary>The login user; default <c>root</c>.</summary>
    public string User { get; init; } = "root";

    /// <summary>Private key file on the engine's machine (OpenSSH format).</summary>
    public required string KeyFile { get; init; }

    /// <summary>The pinned host public key as in known_hosts: <c>&lt;type&gt; &lt;base64&gt;</c>, e.g. <c>ssh-ed25519 AAAA…</c>.</summary>
    public required string HostKey { get; init; }

    /// <summary>Offer 2004-era algorithms (FreeBSD 4.x, OpenSSH 3.x); never on by default.</summary>
    public bool LegacySsh { get; init; }
}

/// <summary>The jail host: where jails live, the world is built and host jobs run.</summary>
public sealed record JailHostSpec
{
    /// <summary>A short name for logs and the journal; default <c>jailhost</c>.</summary>
    public string Name { get; init; } = "jailhost";

    /// <summary>The SSH endpoint, or null when the jail host is this machine (<c>local</c> in YAML).</summary>
    public SshEndpoint? Ssh { get; init; }

    /// <summary>The jails directory; each jail root is <c>&lt;JailsDir&gt;/&lt;jail name&gt;</c>. Default <c>/data/jails</c> (the seed's convention).</summary>
    public string JailsDir { get; init; } = "/data/jails";

    /// <summary>The source tree the world is built from (build(7)); default <c>/usr/src</c>.</summary>
    public string SrcDir { get; init; } = "/usr/src";

    /// <summary>MAKEOBJDIRPREFIX for buildworld; default <c>/usr/obj</c>.</summary>
    public string ObjDir { get; init; } = "/usr/obj";

    /// <summary>Where host jobs keep their directories; default <c>/var/db/jailwf/jobs</c>.</summary>
    public string JobsDir { get; init; } = "/var/db/jailwf/jobs";

    /// <summary>JailWorkflows' own state on the host (known_hosts for transfers, /etc backups); default <c>/var/db/jailwf</c>.</summary>
    public string StateDir { get; init; } = "/var/db/jailwf";

    /// <summary>Where per-jail jail.conf(5) files go; default <c>/etc/jail.conf.d</c>.</summary>
    public string JailConfDir { get; init; } = "/etc/jail.conf.d";

    /// <summary>Private key on the jail host that its ssh(1) uses to reach the source servers for transfers.</summary>
    public required string TransferKeyFile { get; init; }

    /// <summary>Parallel make jobs for buildworld; 0 (default) means the host's CPU count.</summary>
    public int BuildJobs { get; init; }
}

/// <summary>A legacy source server and the jail it becomes.</summary>
public sealed record SourceServerSpec
{
    /// <summary>The server's name, unique in the plan (e.g. <c>ServerA</c>).</summary>
    public required string Name { get; init; }

    /// <summary>How it is reached (by the engine, and by the jail host's ssh(1) for transfers).</summary>
    public required SshEndpoint Ssh { get; init; }

    /// <summary>Its FreeBSD release as <c>uname -r</c> prints it (e.g. <c>4.10-RELEASE</c>); null when unknown.</summary>
    public string? Release { get; init; }

    /// <summary>The UFS partitions to transfer, <c>/</c> first.</summary>
    public required IReadOnlyList<PartitionSpec> Partitions { get; init; }

    /// <summary>The jail it becomes.</summary>
    public required JailSpec Jail { get; init; }

    /// <summary>
    /// Cut over with little downtime (default false): the level-0 transfer runs while the source's services are live,
    /// <c>restoresymtable</c> is kept in each partition, and after an approval the source's services are stopped and a
    /// level-1 <c>dump -1u | restore -r</c> delta is applied (dump(8), restore(8)); only used by a workflow definition
    /// with a <c>Cutover</c> step.
    /// </summary>
    public bool Cutover { get; init; }
}

/// <summary>A partition of a source server: mount point and device (as <c>mount -p</c> shows them).</summary>
public sealed record PartitionSpec
{
    /// <summary>The mount point, absolute (e.g. <c>/usr</c>).</summary>
    public required string MountPoint { get; init; }

    /// <summary>The device (e.g. <c>/dev/ad0s1f</c>); informational, dump(8) is given the mount point.</summary>
    public string? Device { get; init; }
}

/// <summary>The jail a server becomes (jail.conf(5) parameters).</summary>
public sealed record JailSpec
{
    /// <summary>jail(8) <c>name</c>; the jail root is <c>&lt;jails dir&gt;/&lt;name&gt;</c>.</summary>
    public required string Name { get; init; }

    /// <summary><c>host.hostname</c>.</summary>
    public required string Hostname { get; init; }

    /// <summary><c>ip4.addr</c>: the jail's IPv4 address.</summary>
    public required string Ip { get; init; }
}
