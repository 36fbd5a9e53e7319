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
}
