using System.Text;

namespace JailWorkflows.Hosts;

/// <summary>Where a host job is in its life.</summary>
public enum HostJobStatus
{
    /// <summary>No job directory, or a directory without a pid file: the job was never started (or its start was interrupted before daemon(8) ran).</summary>
    NotStarted,

    /// <summary>The job's process (or a process of its process group) is alive and no exit status was written.</summary>
    Running,

    /// <summary>The job ended and its wrapper wrote the exit status (<see cref="HostJobState.ExitStatus"/>).</summary>
    Exited,

    /// <summary>
    /// A pid was recorded, no process of the job is alive and no exit status was written: the host rebooted,
    /// the job was killed with SIGKILL (also by <see cref="HostJobs.KillAsync"/>), or its wrapper died.
    /// The output so far is still readable. The job is never restarted under the same id.
    /// </summary>
    Lost,
}

/// <summary>The state of a host job as one poll saw it.</summary>
/// <param name="JobId">The job id.</param>
/// <param name="Status">Where the job is.</param>
/// <param name="ExitStatus">The exit status when <see cref="HostJobStatus.Exited"/> (128+n when the script was ended by signal n); otherwise null.</param>
/// <param name="ProcessId">The pid daemon(8) recorded (the job's wrapper shell); null when none was recorded yet.</param>
/// <param name="ProcessGroup">The job's process group (what <see cref="HostJobs.KillAsync"/> kills); null when not known.</param>
/// <param name="NewOutput">The job's output (standard output and standard error, interleaved) from the requested offset on, at most <see cref="HostJobs.MaxOutputChunk"/> bytes.</param>
/// <param name="OutputOffset">The offset (bytes from the start of the output file) after <see cref="NewOutput"/>: pass it to the next poll.</param>
/// <param name="MoreOutput">True when the output file held more bytes than were returned: poll again without waiting.</param>
public sealed record HostJobState(
    string JobId,
    HostJobStatus Status,
    int? ExitStatus,
    int? ProcessId,
    int? ProcessGroup,
    byte[] NewOutput,
    long OutputOffset,
    bool MoreOutput)
{
    /// <summary><see cref="NewOutput"/> decoded as UTF-8 (invalid sequences, e.g. a character cut at the chunk end, become U+FFFD).</summary>
    public string NewOutputText => Encoding.UTF8.GetString(NewOutput);

    /// <summary>True when the job is over one way or another (<see cref="HostJobStatus.Exited"/> or <see cref="HostJobStatus.Lost"/>).</summary>
    public bool IsFinished => Status is HostJobStatus.Exited or HostJobStatus.Lost;
}
