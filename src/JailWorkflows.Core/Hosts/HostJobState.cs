using System.Text;

namespace JailWorkflows.Hosts;

/// <summary>Where a host job is in its life.</summary>
public enum HostJobStatus
{
    /// <summary>No job directory, or a directory without a pid file: the job was never started (or its start was interrupted before daemon(8) ran).</summary>
    NotStarted,

    /// <summary>The job's process, or any other process of its session (<see cref="HostJobState.Session"/>), is alive and no exit status was written.</summary>
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
/// <param name="ProcessGroup">The process group of the job's process, recorded at start; null when not known. Processes the job starts may be in other groups of the same session (make(1) puts each of its jobs in a group of its own): <see cref="Session"/> is the job, not this group (except for a job directory written before sessions were recorded).</param>
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
    /// <summary>
    /// The job's session id (setsid(2): the pid of its session leader, daemon(8)'s process), recorded in the job
    /// directory's <c>sid</c> file at start: every process the job starts stays in it (unless it calls setsid(2) itself), and it is what
    /// <see cref="HostJobs.KillAsync"/> kills. Null when not known (not started, or a job directory from before sessions
    /// were recorded whose process was already gone; such a job falls back to <see cref="ProcessGroup"/>).
    /// </summary>
    public int? Session { get; init; }

    /// <summary><see cref="NewOutput"/> decoded as UTF-8 (invalid sequences, e.g. a character cut at the chunk end, become U+FFFD).</summary>
    public string NewOutputText => Encoding.UTF8.GetString(NewOutput);

    /// <summary>True when the job is over one way or another (<see cref="HostJobStatus.Exited"/> or <see cref="HostJobStatus.Lost"/>).</summary>
    public bool IsFinished => Status is HostJobStatus.Exited or HostJobStatus.Lost;
}
