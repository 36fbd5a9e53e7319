namespace JailWorkflows.Lab;

/// <summary>What kind of thing a lab component is.</summary>
public enum LabComponentKind
{
    /// <summary>An sshd of a lab host.</summary>
    Sshd,

    /// <summary>A loop device carrying a partition image.</summary>
    LoopDevice,

    /// <summary>A jail started by the jail shim on the jail host.</summary>
    Jail,

    /// <summary>A process started by the daemon(8) shim on the jail host.</summary>
    HostJob,
}

/// <summary>One thing the lab made and whether it is there.</summary>
/// <param name="Host">The lab host (<c>jailhost</c>, <c>servera</c>, ...).</param>
/// <param name="Kind">The kind.</param>
/// <param name="Name">What it is: <c>127.0.1.1:22</c>, <c>/usr</c>, a jail name, a pid file.</param>
/// <param name="Detail">Pid or loop device and image.</param>
/// <param name="Running">True when the process runs (and is the one recorded) or the loop device carries the recorded image.</param>
public sealed record LabComponentStatus(string Host, LabComponentKind Kind, string Name, string Detail, bool Running);

/// <summary>The state of a lab directory.</summary>
public sealed record LabStatus
{
    /// <summary>The lab directory.</summary>
    public required string Directory { get; init; }

    /// <summary>The state file path.</summary>
    public required string StateFile { get; init; }

    /// <summary>True when the state file exists (the lab was brought up and not torn down).</summary>
    public required bool StateFileExists { get; init; }

    /// <summary>Every recorded component: sshds, loop devices, jails, host jobs.</summary>
    public required IReadOnlyList<LabComponentStatus> Components { get; init; }

    /// <summary>True when the state file exists and every sshd and loop device is there.</summary>
    public bool IsUp => StateFileExists
        && Components.Any(c => c.Kind == LabComponentKind.Sshd)
        && Components.Where(c => c.Kind is LabComponentKind.Sshd or LabComponentKind.LoopDevice).All(c => c.Running);
}
