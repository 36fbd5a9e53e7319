namespace JailWorkflows.Lab;

/// <summary>Settings of a <see cref="Lab"/> (see shared/LAB.md).</summary>
public sealed class LabOptions
{
    /// <summary>The lab directory: everything the lab creates lives below it. Default <c>/var/tmp/jailwf-lab</c>.</summary>
    public string Directory { get; set; } = "/var/tmp/jailwf-lab";

    /// <summary>How long <see cref="Lab.UpAsync"/> waits for each sshd to accept connections; default 20 seconds.</summary>
    public TimeSpan SshdStartTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Install missing Debian packages (<c>apt-get update</c> once, then <c>apt-get install -y</c>, services kept from
    /// starting) when running as root on Debian; default true. When false, missing packages fail <see cref="Lab.UpAsync"/>.
    /// </summary>
    public bool InstallMissingPackages { get; set; } = true;

    /// <summary>
    /// Seconds each buildworld stage of the lab's source tree takes (written to <c>&lt;srcDir&gt;/lab.conf</c> as
    /// <c>LAB_STAGE_SECONDS</c> when the tree is created); null keeps the tree's default of 2 seconds.
    /// Fractions are allowed (sleep(1) of GNU coreutils).
    /// </summary>
    public double? BuildStageSeconds { get; set; }

    /// <summary>
    /// MiB of file data on an extra partition <c>/data</c> of ServerA (FreeBSD device <c>/dev/ad0s1g</c>, image
    /// <c>data.ext4</c>, sized for the data plus file system overhead), for the transfer benchmarks; null (the default)
    /// for no such partition. The data is incompressible pseudo-random content (seeded: the same bytes every time) in
    /// files of 4 KiB to 8 MiB, about a fifth of it in small files, so dump(8) reads many inodes as well as long files.
    /// The partition is in <see cref="LabInfo"/> (and its plan) like the others; the image is built when missing, so
    /// set this on a lab directory of its own (a lab made without it keeps its images).
    /// </summary>
    public int? DataPartitionMiB { get; set; }
}
