namespace JailWorkflows.Lab;

/// <summary>A partition of a lab source server: mount point, FreeBSD device name, ext4 image; <paramref name="DataMiB"/> MiB of generated file data (0: none).</summary>
internal sealed record PartitionDefinition(string MountPoint, string Device, string ImageName, int SizeMiB, int DataMiB = 0);

/// <summary>A lab source server (the seed's ServerA/B/C).</summary>
internal sealed record ServerDefinition(
    string Name,
    string Key,
    string Release,
    string Address,
    string JailIp,
    string LanIp,
    string WebText,
    IReadOnlyList<PartitionDefinition> Partitions)
{
    /// <summary>The rc.conf hostname, e.g. <c>ServerA.example.org</c>.</summary>
    public string Fqdn => Name + ".example.org";

    /// <summary>Major release number, e.g. 4 for 4.10-RELEASE.</summary>
    public int Major => int.Parse(Release.AsSpan(0, Release.IndexOf('.', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>The fixed shape of the lab: addresses, names, releases, partitions, directory names.</summary>
internal static class LabLayout
{
    public const string StateFileName = "lab-state.json";
    public const string LockFileName = ".lab.lock";
    public const string KeysDirName = "keys";
    public const string JailHostKey = "jailhost";
    public const string JailHostAddress = "127.0.10.1";
    public const string JailHostRelease = "14.1-RELEASE";
    public const string JailHostFqdn = "jailhost.example.org";
    public const int SshPort = 22;

    /// <summary>Top-level entries of a lab directory that <see cref="Lab.UpAsync"/> creates (and DownAsync removes).</summary>
    public static IReadOnlyList<string> TopLevelEntries =>
        [KeysDirName, JailHostKey, .. Servers.Select(s => s.Key), StateFileName];

    /// <summary>
    /// The servers of a lab with <see cref="LabOptions.DataPartitionMiB"/>: ServerA gets <c>/data</c> (<c>/dev/ad0s1g</c>)
    /// holding <paramref name="dataMiB"/> MiB of file data; null gives <see cref="Servers"/>.
    /// </summary>
    public static IReadOnlyList<ServerDefinition> ServersWith(int? dataMiB) =>
        dataMiB is not > 0
            ? Servers
            : Servers.Select(s => s.Key != "servera"
                ? s
                : s with { Partitions = [.. s.Partitions, new("/data", "/dev/ad0s1g", "data.ext4", dataMiB.Value + (dataMiB.Value / 8) + 96, dataMiB.Value)] }).ToList();

    public static IReadOnlyList<ServerDefinition> Servers { get; } =
    [
        new("ServerA", "servera", "4.10-RELEASE", "127.0.1.1", "127.0.20.1", "10.11.12.13", "ServerA (FreeBSD 4.10) says hello",
        [
            new("/", "/dev/ad0s1a", "root.ext4", 32),
            new("/usr", "/dev/ad0s1f", "usr.ext4", 32),
            new("/var", "/dev/ad0s1e", "var.ext4", 16),
        ]),
        new("ServerB", "serverb", "4.9-RELEASE", "127.0.1.2", "127.0.20.2", "10.11.12.14", "ServerB (FreeBSD 4.9) says hello",
        [
            new("/", "/dev/ad0s1a", "root.ext4", 32),
            new("/usr", "/dev/ad0s1f", "usr.ext4", 32),
            new("/var", "/dev/ad0s1e", "var.ext4", 16),
        ]),
        new("ServerC", "serverc", "4.7-RELEASE", "127.0.1.3", "127.0.20.3", "10.11.12.15", "ServerC (FreeBSD 4.7) says hello",
        [
            new("/", "/dev/ad0s1a", "root.ext4", 32),
            new("/usr", "/dev/ad0s1f", "usr.ext4", 32),
        ]),
    ];
}
