namespace JailWorkflows.FreeBsd;

/// <summary>The decisions of a consolidation's preflight, as pure functions of what was read on the hosts.</summary>
public static class PreflightRules
{
    /// <summary>
    /// The space a jail root needs: the partitions' allocated (used) kilobytes, plus <paramref name="marginPercent"/>
    /// percent, rounded up. restore(8) writes about what dump(8) read; the margin covers the installed world and logs.
    /// </summary>
    /// <param name="usedKilobytes">Used kilobytes of each partition (<c>df -k</c> on the source).</param>
    /// <param name="marginPercent">The margin, 0 to 1000 percent.</param>
    /// <returns>Kilobytes needed.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A negative size or a margin out of range.</exception>
    public static long RequiredKilobytes(IEnumerable<long> usedKilobytes, int marginPercent)
    {
        ArgumentNullException.ThrowIfNull(usedKilobytes);
        ArgumentOutOfRangeException.ThrowIfNegative(marginPercent);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(marginPercent, 1000);
        long sum = 0;
        foreach (var used in usedKilobytes)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(used, nameof(usedKilobytes));
            sum = checked(sum + used);
        }

        return checked((sum * (100 + marginPercent) + 99) / 100);
    }

    /// <summary>
    /// Whether a world built from a source tree of release <paramref name="world"/> is newer than the running kernel
    /// <paramref name="kernel"/> (<c>uname -r</c>): a newer major or minor release. Such a userland may use system calls
    /// the kernel lacks (build(7): the kernel must be at least as new as the world). Patch levels and RELEASE/STABLE
    /// of the same minor release do not count: freebsd-update patches userland and kernel separately.
    /// </summary>
    /// <param name="world">The source tree's release (newvers.sh).</param>
    /// <param name="kernel">The running kernel's release.</param>
    /// <returns>True when the world is newer.</returns>
    public static bool WorldIsNewerThanKernel(FreeBsdRelease world, FreeBsdRelease kernel)
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentNullException.ThrowIfNull(kernel);
        return world.Major > kernel.Major || (world.Major == kernel.Major && world.Minor > kernel.Minor);
    }

    /// <summary>Whether <c>make installworld</c> can run at securelevel <paramref name="securelevel"/> (init(8): from 1 on,
    /// immutable flags cannot be cleared and installworld fails).</summary>
    /// <param name="securelevel"><c>sysctl -n kern.securelevel</c>.</param>
    /// <returns>True when -1 or 0.</returns>
    public static bool SecurelevelAllowsInstall(int securelevel) => securelevel <= 0;

    /// <summary>
    /// Judges a jail root before a consolidation: absent, or an empty directory, is free; a non-empty one is accepted
    /// only when its ownership marker names <paramref name="instanceId"/> (an earlier run of the same instance). An
    /// ownership marker of another instance refuses the root even when it is empty (that instance may still fill it).
    /// </summary>
    /// <param name="exists">Whether the path exists.</param>
    /// <param name="isDirectory">Whether it is a directory.</param>
    /// <param name="entries">Some of its entries (empty when it has none).</param>
    /// <param name="owner">The instance id in the ownership marker, or null when there is none.</param>
    /// <param name="instanceId">This instance.</param>
    /// <returns>The verdict.</returns>
    public static JailRootVerdict JudgeJailRoot(bool exists, bool isDirectory, IReadOnlyList<string> entries, string? owner, string instanceId)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(instanceId);
        owner = string.IsNullOrWhiteSpace(owner) ? null : owner.Trim();
        if (owner is not null && owner != instanceId)
        {
            return new JailRootVerdict(false, $"owned by instance {owner} (ownership marker); release it by removing the marker only when that instance is abandoned");
        }

        if (!exists)
        {
            return new JailRootVerdict(true, "absent");
        }

        if (!isDirectory)
        {
            return new JailRootVerdict(false, "exists and is not a directory");
        }

        if (entries.Count == 0)
        {
            return new JailRootVerdict(true, owner is null ? "empty" : "empty, owned by this instance");
        }

        return owner == instanceId
            ? new JailRootVerdict(true, "not empty, owned by this instance")
            : new JailRootVerdict(false, $"not empty ({string.Join(", ", entries.Take(5))}{(entries.Count > 5 ? ", …" : string.Empty)}) and owned by no instance: a foreign tree is never overwritten");
    }

    /// <summary>
    /// Who already holds the jail's IP: addresses configured on the host's interfaces and running jails listed by jls.
    /// The jail itself (same name and path, running from an earlier run of this instance) is not a holder.
    /// </summary>
    /// <param name="ip">The jail's IPv4 address.</param>
    /// <param name="configured">ifconfig's addresses.</param>
    /// <param name="running">jls' rows.</param>
    /// <param name="jailRoot">This jail's root (jls shows hostnames, not names: the path identifies the jail).</param>
    /// <returns>One description per holder; empty when the IP is free.</returns>
    public static IReadOnlyList<string> IpHolders(string ip, IReadOnlyList<InterfaceAddress> configured, IReadOnlyList<JailListing> running, JailRoot jailRoot)
    {
        ArgumentNullException.ThrowIfNull(configured);
        ArgumentNullException.ThrowIfNull(running);
        ArgumentNullException.ThrowIfNull(jailRoot);
        if (running.Any(r => r.Ip == ip && r.Path == jailRoot.Path))
        {
            return [];
        }

        var holders = new List<string>();
        holders.AddRange(configured.Where(a => a.Address == ip).Select(a => $"configured on {a.Interface}"));
        holders.AddRange(running.Where(r => r.Ip == ip).Select(r => $"held by running jail {r.Jid} ({r.Hostname}, {r.Path})"));
        return holders;
    }
}

/// <summary>The verdict on a jail root.</summary>
/// <param name="Acceptable">Whether the consolidation may use it.</param>
/// <param name="Reason">Why, for the journal.</param>
public sealed record JailRootVerdict(bool Acceptable, string Reason);
