using JailWorkflows.Plans;

namespace JailWorkflows.Lab;

/// <summary>Everything a plan needs about a running lab (addresses, pinned host keys, directories); see shared/LAB.md.</summary>
public sealed record LabInfo
{
    /// <summary>The lab directory.</summary>
    public required string Directory { get; init; }

    /// <summary>The state file (JSON) listing what the lab started: sshd pids, loop devices.</summary>
    public required string StateFile { get; init; }

    /// <summary>The engine-side private key (RSA, PEM) accepted by every lab host for <c>root</c>.</summary>
    public required string UserKeyFile { get; init; }

    /// <summary>The jail host.</summary>
    public required LabJailHost JailHost { get; init; }

    /// <summary>The source servers ServerA (4.10), ServerB (4.9), ServerC (4.7).</summary>
    public required IReadOnlyList<LabSourceServer> Servers { get; init; }

    /// <summary>Finds a source server by name (e.g. <c>ServerA</c>), ordinal.</summary>
    /// <param name="name">The server name.</param>
    /// <returns>The server.</returns>
    /// <exception cref="KeyNotFoundException">No such server.</exception>
    public LabSourceServer Server(string name) =>
        Servers.FirstOrDefault(s => s.Name == name) ?? throw new KeyNotFoundException($"The lab has no source server '{name}'.");

    /// <summary>Builds a consolidation plan for the lab: its jail host and all three source servers (legacy SSH on).</summary>
    /// <returns>The plan.</returns>
    public Plan ToPlan() => new()
    {
        JailHost = new JailHostSpec
        {
            Name = "jailhost",
            Ssh = JailHost.Ssh,
            JailsDir = JailHost.JailsDir,
            SrcDir = JailHost.SrcDir,
            ObjDir = JailHost.ObjDir,
            JobsDir = JailHost.JobsDir,
            StateDir = JailHost.StateDir,
            JailConfDir = JailHost.JailConfDir,
            TransferKeyFile = JailHost.TransferKeyFile,
        },
        Servers = Servers.Select(s => new SourceServerSpec
        {
            Name = s.Name,
            Ssh = s.Ssh,
            Release = s.Release,
            Partitions = s.Partitions.Select(p => p.ToSpec()).ToList(),
            Jail = s.Jail,
        }).ToList(),
    };

    /// <summary>
    /// The lab's plan (<see cref="ToPlan()"/>) with the jail host's working directories of its own under
    /// <paramref name="directory"/> (<c>jails</c>, <c>obj</c>, <c>jobs</c>, <c>state</c>, <c>jail.conf.d</c>), so several
    /// runs on one lab share nothing but the hosts.
    /// </summary>
    /// <param name="directory">An absolute directory on the jail host (the lab's file system).</param>
    /// <param name="srcDir">The world source tree; null for the lab's own.</param>
    /// <returns>The plan, with all three source servers.</returns>
    public Plan ToPlan(string directory, string? srcDir = null)
    {
        var plan = ToPlan();
        return plan with
        {
            JailHost = plan.JailHost with
            {
                JailsDir = Path.Combine(directory, "jails"),
                SrcDir = srcDir ?? plan.JailHost.SrcDir,
                ObjDir = Path.Combine(directory, "obj"),
                JobsDir = Path.Combine(directory, "jobs"),
                StateDir = Path.Combine(directory, "state"),
                JailConfDir = Path.Combine(directory, "jail.conf.d"),
            },
        };
    }
}

/// <summary>The lab's jail host: an sshd on 127.0.10.1:22 whose PATH puts the FreeBSD shims first.</summary>
public sealed record LabJailHost
{
    /// <summary>SSH endpoint (modern algorithms, ed25519 host key pinned).</summary>
    public required SshEndpoint Ssh { get; init; }

    /// <summary>The jail host's directory in the lab (<c>&lt;lab&gt;/jailhost</c>).</summary>
    public required string Directory { get; init; }

    /// <summary>The shims directory, first in the PATH of commands run over its sshd.</summary>
    public required string BinDir { get; init; }

    /// <summary>Jails directory (<c>&lt;lab&gt;/jailhost/jails</c>).</summary>
    public required string JailsDir { get; init; }

    /// <summary>The world source tree (<c>&lt;lab&gt;/jailhost/usr/src</c>).</summary>
    public required string SrcDir { get; init; }

    /// <summary>MAKEOBJDIRPREFIX of buildworld (<c>&lt;lab&gt;/jailhost/usr/obj</c>); the make shim defaults to it.</summary>
    public required string ObjDir { get; init; }

    /// <summary>Host job directories (<c>&lt;lab&gt;/jailhost/jobs</c>).</summary>
    public required string JobsDir { get; init; }

    /// <summary>JailWorkflows' state on the host (<c>&lt;lab&gt;/jailhost/var/db/jailwf</c>).</summary>
    public required string StateDir { get; init; }

    /// <summary>Per-jail jail.conf(5) files read by <c>service jail start &lt;name&gt;</c> (<c>&lt;lab&gt;/jailhost/etc/jail.conf.d</c>).</summary>
    public required string JailConfDir { get; init; }

    /// <summary>Where the jail shim records running jails (<c>&lt;lab&gt;/jailhost/var/run/jails</c>).</summary>
    public required string JailRunDir { get; init; }

    /// <summary>Private RSA key on the jail host that its ssh(1) uses to reach the source servers (authorized there).</summary>
    public required string TransferKeyFile { get; init; }

    /// <summary>What <c>uname -r</c> prints on the jail host: <c>14.1-RELEASE</c>.</summary>
    public required string Release { get; init; }
}

/// <summary>A lab source server: its own legacy-algorithm sshd, shims for uname/mount/dump, ext4 partitions on loop devices.</summary>
public sealed record LabSourceServer
{
    /// <summary>The name, e.g. <c>ServerA</c>.</summary>
    public required string Name { get; init; }

    /// <summary>SSH endpoint (legacy algorithms, RSA host key pinned, <see cref="SshEndpoint.LegacySsh"/> true).</summary>
    public required SshEndpoint Ssh { get; init; }

    /// <summary>What <c>uname -r</c> prints, e.g. <c>4.10-RELEASE</c>.</summary>
    public required string Release { get; init; }

    /// <summary>The rc.conf hostname, e.g. <c>ServerA.example.org</c>.</summary>
    public required string Hostname { get; init; }

    /// <summary>The server's directory in the lab (<c>&lt;lab&gt;/servera</c>).</summary>
    public required string Directory { get; init; }

    /// <summary>The partitions, <c>/</c> first, as <c>mount -p</c> lists them.</summary>
    public required IReadOnlyList<LabPartition> Partitions { get; init; }

    /// <summary>The jail this server becomes: name <c>servera</c>, hostname <c>ServerA</c>, IP <c>127.0.20.1</c>.</summary>
    public required JailWorkflows.Plans.JailSpec Jail { get; init; }

    /// <summary>The text of <c>/usr/local/www/data/index.html</c>, unique per server (what its httpd answers).</summary>
    public required string WebContent { get; init; }
}

/// <summary>A partition of a lab source server.</summary>
public sealed record LabPartition
{
    /// <summary>Mount point, e.g. <c>/usr</c>.</summary>
    public required string MountPoint { get; init; }

    /// <summary>FreeBSD device name, e.g. <c>/dev/ad0s1f</c>.</summary>
    public required string Device { get; init; }

    /// <summary>The ext4 image file.</summary>
    public required string ImageFile { get; init; }

    /// <summary>The loop device the image is attached to (e.g. <c>/dev/loop3</c>); null when not attached.</summary>
    public string? LoopDevice { get; init; }

    /// <summary>The plan's view of this partition.</summary>
    /// <returns>Mount point and device.</returns>
    public PartitionSpec ToSpec() => new() { MountPoint = MountPoint, Device = Device };
}
