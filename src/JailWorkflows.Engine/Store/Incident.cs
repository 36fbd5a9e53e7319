namespace JailWorkflows.Engine.Store;

/// <summary>How an incident was closed. Stored by name (text), so values may be added but never renamed.</summary>
public enum IncidentResolution
{
    /// <summary>An operator had the failed step run again (<c>jailwf retry</c>).</summary>
    Retried,

    /// <summary>An operator skipped the failed step (<c>jailwf skip</c>); the next step ran.</summary>
    Skipped,

    /// <summary>An operator ended the instance (<c>jailwf abort</c>).</summary>
    Aborted,

    /// <summary>An operator continued the instance from its checkpoint (<c>jailwf resume</c>).</summary>
    Resumed,

    /// <summary>The step succeeded when it ran again after an engine restart, before anyone decided.</summary>
    Recovered,
}

/// <summary>
/// A step that failed for good (its retry policy exhausted, or an error that is never retried): the instance is
/// suspended and waits for a person's decision (retry, skip, abort, resume). One open incident per instance at most, except
/// with parallel branches: one per failed branch (the instance runs again once each has a decision).
/// </summary>
public sealed class Incident
{
    /// <summary>Row id, assigned on insert.</summary>
    public long Id { get; set; }

    /// <summary>The workflow instance.</summary>
    public required string InstanceId { get; set; }

    /// <summary>The failed step's id in the definition.</summary>
    public required string Step { get; set; }

    /// <summary>The step's activity (e.g. <c>TransferPartitions</c>).</summary>
    public required string Activity { get; set; }

    /// <summary>The host the step worked on (the jail host's name from the plan).</summary>
    public required string Host { get; set; }

    /// <summary>The error, naming the host, partition or file.</summary>
    public required string Error { get; set; }

    /// <summary>The last lines (at most 20, oldest first, newline-separated) of the step's host job output; empty when none.</summary>
    public string OutputTail { get; set; } = string.Empty;

    /// <summary>How many attempts the step made before it became an incident.</summary>
    public int Attempts { get; set; }

    /// <summary>When it was opened (UTC).</summary>
    public DateTime OpenedAt { get; set; }

    /// <summary>When it was closed (UTC), or null while it is open.</summary>
    public DateTime? ClosedAt { get; set; }

    /// <summary>How it was closed, or null while it is open.</summary>
    public IncidentResolution? Resolution { get; set; }

    /// <summary>Who closed it (the operator's user name), or null.</summary>
    public string? ResolvedBy { get; set; }

    /// <summary>The operator's reason, or null.</summary>
    public string? Reason { get; set; }
}
