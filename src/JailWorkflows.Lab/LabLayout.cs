namespace JailWorkflows.Lab;

/// <summary>A partition of a lab source server: mount point, FreeBSD device name, ext4 image.</summary>
internal sealed record PartitionDefinition(string MountPoint, string Device, string ImageName, int SizeMiB);

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
