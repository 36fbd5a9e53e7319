using System.Globalization;
using JailWorkflows.Shell;

namespace JailWorkflows.Hosts;

/// <summary>
/// Host jobs (DESIGN.md D2): long commands run detached on a host with daemon(8), so an engine crash,
/// restart or SSH drop never interrupts them; the engine re-attaches by job id.
/// </summary>
/// <remarks>
/// <para>
/// Each job has a directory <c>&lt;jobsDir&gt;/&lt;jobId&gt;/</c> (mode 0700) holding <c>script</c> (the /bin/sh script
/// generated from the <see cref="ShellCommand"/>), <c>pid</c> (written by daemon(8) <c>-p</c>), <c>sid</c> and
/// <c>pgid</c> (the session and the process group of that pid, recorded at start or at the first poll that sees it),
/// <c>output</c> (standard output and standard error, written by daemon(8) <c>-o</c>) and <c>exit</c> (the decimal
/// exit status, written atomically — <c>exit.tmp</c> then rename(2) — by a wrapper when the script ends). The job is started as
/// <c>daemon -f -p &lt;dir&gt;/pid -o &lt;dir&gt;/output /bin/sh -c 'cd / &amp;&amp; { /bin/sh &lt;dir&gt;/script; echo $? &gt; &lt;dir&gt;/exit.tmp; } &amp;&amp; mv -f &lt;dir&gt;/exit.tmp &lt;dir&gt;/exit'</c>:
/// daemon(8) detaches the job into a session of its own (setsid(2)), so it survives the SSH channel.
/// </para>
/// <para>
/// The job is its session, not its process group: make(1) (FreeBSD's make, bmake) puts each job it runs under
/// <c>-j</c> into a process group of its own (setpgid(2)), and so do shells with job control, but nothing the job
/// starts leaves the session unless it calls setsid(2) itself. A job is running while any non-zombie process of its
/// session lives (ps(1) <c>-A -o sid= -o stat=</c>), even after its own pid is gone, and <see cref="KillAsync"/> kills
/// every process of the session. A job directory written before sessions were recorded (a <c>pgid</c> file, no
/// <c>sid</c>) gets its <c>sid</c> from its pid while that pid is alive in the recorded group; otherwise it is
/// judged and killed by its process group, as it was then. <c>daemon</c> is looked up in the host's PATH (FreeBSD:
/// /usr/sbin/daemon; the lab puts a shim with the same contract first; for a <see cref="LocalHost"/> pass PATH to its constructor).
/// </para>
/// <para>
/// Each call is one command on the host (one SSH round trip). The host side uses only POSIX sh(1),
/// ps(1) (<c>-A -o sid= -o pgid= -o pid= -o stat=</c>, <c>-o ... -p</c>; <c>sid</c> is a keyword of FreeBSD's and of
/// procps' ps), kill(1), awk(1), od(1), tail(1) and head(1) <c>-c</c>, present on FreeBSD and Linux.
/// A job's script runs with <c>/</c> as working directory (daemon(8)'s default) and standard input from /dev/null.
/// </para>
/// </remarks>
public sealed class HostJobs
{
    /// <summary>Longest accepted script text, 64 KiB: it travels as one argument of one command (Linux caps a single argument at 128 KiB).</summary>
    public const int MaxScriptLength = 64 * 1024;

    // Host-side programs. Values never appear in them: every value is a positional parameter, quoted by
    // ShellQuote. One line each (a csh login shell on an old host cannot take newlines inside quotes) and no
    // '!' (csh history). $1 is always the job directory.
    private const string Prelude =
        "d=$1; " +
        "rd() { v=; if [ -s \"$1\" ]; then read -r v < \"$1\"; fi; if [ -n \"$v\" ] && [ \"$v\" -gt 1 ] 2>/dev/null; then :; else v=; fi; }; " +
        "wr() { echo \"$2\" > \"$d/$1.tmp\" && mv -f \"$d/$1.tmp\" \"$d/$1\"; }; " +
        "live() { s=$(ps -o stat= -p \"$1\" 2>/dev/null | tr -d ' '); case $s in ''|Z*) return 1;; esac; return 0; }; " +
        "pgof() { ps -o pgid= -p \"$1\" 2>/dev/null | tr -d ' '; }; " +
        "sidof() { ps -o sid= -p \"$1\" 2>/dev/null | tr -d ' '; }; " +
        "glive() { ps -A -o pgid= -o stat= 2>/dev/null | awk -v g=\"$1\" '$2 ~ /^Z/ { next } $1 == g { f = 1 } END { exit (f ? 0 : 1) }'; }; " +
        "slive() { ps -A -o sid= -o stat= 2>/dev/null | awk -v s=\"$1\" '$2 ~ /^Z/ { next } $1 == s { f = 1 } END { exit (f ? 0 : 1) }'; }; " +
        // skill SID: SIGKILL to every live process of the session and to each of its process groups (a group never
        // leaves its session, and kill(2) on a group also reaches a member forked after ps looked).
        "skill() { k=$(ps -A -o sid= -o pgid= -o pid= -o stat= 2>/dev/null | awk -v s=\"$1\" '$4 ~ /^Z/ { next } $1 == s { print $3; if ($2 > 1 && ($2 in g) == 0) { g[$2] = 1; print \"-\" $2 } }'); if [ -n \"$k\" ]; then kill -s KILL -- $k 2>/dev/null; fi; }; " +
        // ours: pid is alive and still in the recorded session (a pid reused after a reboot is not ours); a job
        // directory from before sessions were recorded has only the process group to compare.
        "ours() { cur=; csid=; if [ -n \"$pid\" ] && live \"$pid\"; then cur=$(pgof \"$pid\"); csid=$(sidof \"$pid\"); " +
        "if [ -n \"$sid\" ]; then if [ \"$csid\" = \"$sid\" ]; then return 0; fi; elif [ -z \"$pgid\" ] || [ \"$cur\" = \"$pgid\" ]; then return 0; fi; fi; return 1; }; " +
        // adopt (after ours): record the group and the session of our pid where they are not recorded yet.
        "adopt() { if [ -z \"$pgid\" ] && [ -n \"$cur\" ] && [ \"$cur\" -gt 1 ] 2>/dev/null; then pgid=$cur; wr pgid \"$pgid\"; fi; " +
        "if [ -z \"$sid\" ] && [ -n \"$csid\" ] && [ \"$csid\" -gt 1 ] 2>/dev/null; then sid=$csid; wr sid \"$sid\"; fi; }; " +
        "load() { rd \"$d/pid\"; pid=$v; rd \"$d/pgid\"; pgid=$v; rd \"$d/sid\"; sid=$v; }; " +
        // jlive: some process of the job is alive: of its session, or (no session recorded) of its process group.
        "jlive() { if [ -n \"$sid\" ]; then slive \"$sid\"; elif [ -n \"$pgid\" ]; then glive \"$pgid\"; else return 1; fi; }; " +
        "state() { if [ -d \"$d\" ]; then :; else echo 'status notstarted'; return 0; fi; load; alive=no; " +
        "if ours; then alive=yes; adopt; elif jlive; then alive=yes; fi; " +
        "if [ -s \"$d/exit\" ]; then read -r code < \"$d/exit\"; echo 'status exited'; echo \"exit $code\"; " +
        "elif [ \"$alive\" = yes ]; then echo 'status running'; " +
        "elif [ -z \"$pid\" ]; then echo 'status notstarted'; " +
        "else echo 'status lost'; fi; echo \"pid $pid\"; echo \"pgid $pgid\"; echo \"sid $sid\"; }; " +
        // output OFFSET MAX: the output file's size, then up to MAX bytes from OFFSET as hex (binary-safe).
        "output() { size=0; if [ -f \"$d/output\" ]; then size=$(wc -c < \"$d/output\" | tr -d ' '); fi; echo \"size $size\"; echo output; " +
        "if [ \"$2\" -gt 0 ] && [ \"$size\" -gt \"$1\" ]; then tail -c +\"$(($1 + 1))\" \"$d/output\" | head -c \"$2\" | od -An -v -tx1; fi; }; ";

    // $2 script text, $3 the daemon(8) command line. Signals from a dropped channel are ignored so a start,
    // once on the host, runs to its end.
    private const string StartProgram = Prelude +
        "trap '' HUP INT TERM PIPE; umask 077; mkdir -p \"$d\" || exit 70; " +
        "if [ -e \"$d/pid\" ] || [ -e \"$d/exit\" ]; then :; else " +
        "printf '%s\\n' \"$2\" > \"$d/script.tmp\" && mv -f \"$d/script.tmp\" \"$d/script\" || exit 71; " +
        "if eval \"$3\" < /dev/null > \"$d/daemon.err\" 2>&1; then :; else echo 'jailwf: daemon(8) failed:' >&2; cat \"$d/daemon.err\" >&2; exit 72; fi; " +
        "i=0; while [ \"$i\" -lt 200 ]; do if [ -s \"$d/pid\" ] || [ -s \"$d/exit\" ]; then break; fi; sleep 0.05; i=$((i + 1)); done; " +
        "if [ -s \"$d/pid\" ] || [ -s \"$d/exit\" ]; then :; else echo 'jailwf: daemon(8) wrote no pid file within 10 s' >&2; exit 75; fi; " +
        "fi; state; output 0 0";

    // $2 offset, $3 max bytes.
    private const string PollProgram = Prelude + "state; output \"$2\" \"$3\"";

    // SIGKILL every process of the job's session (or, for a job directory without a session, its process group)
    // and its pid, then wait until none of it is alive (10 s at most). Refuses session or group 0/1 and the killing
    // shell's own.
    private const string KillProgram = Prelude +
        "trap '' HUP INT TERM PIPE; if [ -d \"$d\" ]; then :; else state; output 0 0; exit 0; fi; load; " +
        "if ours; then kpid=$pid; adopt; else kpid=; fi; " +
        "if [ -n \"$sid\" ]; then if [ \"$sid\" -gt 1 ] 2>/dev/null && [ \"$sid\" != \"$(sidof $$)\" ]; then :; else echo \"jailwf: refusing to kill session '$sid'\" >&2; exit 73; fi; " +
        "elif [ -n \"$pgid\" ]; then if [ \"$pgid\" -gt 1 ] 2>/dev/null && [ \"$pgid\" != \"$(pgof $$)\" ]; then :; else echo \"jailwf: refusing to kill process group '$pgid'\" >&2; exit 73; fi; fi; " +
        "i=0; while { [ -n \"$kpid\" ] && live \"$kpid\"; } || jlive; do " +
        "if [ \"$i\" -ge 200 ]; then echo 'jailwf: the job is still alive 10 s after SIGKILL' >&2; exit 74; fi; " +
        "if [ -n \"$sid\" ]; then skill \"$sid\"; elif [ -n \"$pgid\" ]; then kill -s KILL -- \"-$pgid\" 2>/dev/null; fi; " +
        "if [ -n \"$kpid\" ]; then kill -s KILL \"$kpid\" 2>/dev/null; fi; " +
        "i=$((i + 1)); sleep 0.05; done; state; output 0 0";

    private readonly string _jobsDir;

    /// <summary>Creates the job manager for one host. Nothing is contacted.</summary>
    /// <param name="host">The host the jobs run on.</param>
    /// <param name="jobsDir">Absolute directory for job directories (e.g. <c>/var/db/jailwf/jobs</c>); created on first start.</param>
    /// <exception cref="ArgumentException"><paramref name="jobsDir"/> is not an absolute path, or is <c>/</c>.</exception>
    public HostJobs(Host host, string jobsDir)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentException.ThrowIfNullOrWhiteSpace(jobsDir);
        var trimmed = jobsDir.TrimEnd('/');
        if (!jobsDir.StartsWith('/') || trimmed.Length == 0 || jobsDir.Contains('\0', StringComparison.Ordinal)
            || trimmed.Split('/').Any(part => part is "." or ".."))
        {
            throw new ArgumentException($"The jobs directory must be an absolute path below '/' without '.' or '..' parts, not '{jobsDir}'.", nameof(jobsDir));
        }

        Host = host;
        _jobsDir = trimmed;
    }

    /// <summary>The host the jobs run on.</summary>
    public Host Host { get; }

    /// <summary>The jobs directory (absolute, no trailing slash).</summary>
    public string JobsDir => _jobsDir;

    /// <summary>Largest number of output bytes one <see cref="PollAsync"/> returns; default 256 KiB (sent as hex, about 3 bytes per byte). At least 1.</summary>
    public int MaxOutputChunk
    {
        get;
        init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "At least one byte.");
    } = 256 * 1024;

    /// <summary>Checks a job id: 1 to 200 characters of ASCII letters, digits, <c>-</c>, <c>_</c> and <c>.</c>, and not <c>.</c> or <c>..</c>.</summary>
    /// <param name="jobId">The id.</param>
    /// <exception cref="ArgumentException">The id is not valid.</exception>
    public static void ValidateJobId(string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        if (jobId.Length is 0 or > 200 || jobId is "." or ".."
            || !jobId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException($"'{jobId}' is not a valid job id (1-200 of letters, digits, '-', '_', '.'; not '.' or '..').", nameof(jobId));
        }
    }

    /// <summary>The job's directory on the host: <c>&lt;jobsDir&gt;/&lt;jobId&gt;</c>.</summary>
    /// <param name="jobId">The job id.</param>
    /// <returns>The absolute path.</returns>
    /// <exception cref="ArgumentException">The job id is not valid.</exception>
    public string JobDirectory(string jobId)
    {
        ValidateJobId(jobId);
        return _jobsDir + "/" + jobId;
    }

    /// <summary>The daemon(8) command that starts the job (what <see cref="StartAsync"/> runs when the job has not started).</summary>
    /// <param name="jobId">The job id.</param>
    /// <returns><c>daemon -f -p &lt;dir&gt;/pid -o &lt;dir&gt;/output /bin/sh -c '&lt;wrapper&gt;'</c>.</returns>
    /// <exception cref="ArgumentException">The job id is not valid.</exception>
    public ShellCommand DaemonCommand(string jobId)
    {
        var dir = JobDirectory(jobId);
        var wrapper = ShellCommand.Of("cd", "/")
            .And(ShellCommand.Of("/bin/sh", dir + "/script").RecordExitStatus(dir + "/exit.tmp"))
            .And(ShellCommand.Of("mv", "-f", dir + "/exit.tmp", dir + "/exit"));
        return ShellCommand.Of("daemon", "-f", "-p", dir + "/pid", "-o", dir + "/output", "/bin/sh", "-c", wrapper.Text);
    }

    /// <summary>
    /// Starts the job unless it was started before: idempotent for a given <paramref name="jobId"/> (derive
    /// it from instance, step and attempt). When the job directory already holds a <c>pid</c> or an
    /// <c>exit</c> file nothing is started and the current state is returned (re-attach). A previous start
    /// interrupted before daemon(8) ran (directory made, no pid) is completed now.
    /// </summary>
    /// <param name="jobId">The job id (see <see cref="ValidateJobId"/>).</param>
    /// <param name="script">What the job runs, as one /bin/sh script. Up to <see cref="MaxScriptLength"/> characters.</param>
    /// <param name="cancellationToken">Cancellation. Once the command reached the host, the start runs to its end there regardless.</param>
    /// <returns>The state right after the start (normally <see cref="HostJobStatus.Running"/>, or <see cref="HostJobStatus.Exited"/> for a quick job), without output: read it with <see cref="PollAsync"/> from offset 0.</returns>
    /// <exception cref="ArgumentException">Invalid job id, or the script is too long.</exception>
    /// <exception cref="HostCommandException">The job directory could not be made, daemon(8) failed (its message is in the exception), or it wrote no pid file within 10 seconds.</exception>
    /// <exception cref="HostUnreachableException">The host cannot be reached.</exception>
    /// <remarks>
    /// Safe against an engine crash at any instant: once on the host the start ignores SIGHUP/SIGTERM/SIGPIPE and
    /// waits up to 10 seconds for daemon(8)'s pid file before returning. Not safe against two concurrent
    /// <see cref="StartAsync"/> calls for the same id (one engine per store, DESIGN.md D7, excludes that).
    /// </remarks>
    public async Task<HostJobState> StartAsync(string jobId, ShellCommand script, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(script);
        var dir = JobDirectory(jobId);
        if (script.Text.Length > MaxScriptLength)
        {
            throw new ArgumentException($"The script of job '{jobId}' has {script.Text.Length} characters; at most {MaxScriptLength}.", nameof(script));
        }

        var text = "#!/bin/sh\n# jailwf host job " + jobId + "\n" + script.Text;
        var command = ShellCommand.Of("/bin/sh", "-c", StartProgram, "jailwf-job-start", dir, text, DaemonCommand(jobId).Text);
        return await RunProgramAsync(jobId, command, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the job's state and its output from <paramref name="outputOffset"/> on, in one command on the host.</summary>
    /// <param name="jobId">The job id.</param>
    /// <param name="outputOffset">Bytes of output already seen (0 at first; then the previous <see cref="HostJobState.OutputOffset"/>).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The state with up to <see cref="MaxOutputChunk"/> new output bytes.</returns>
    /// <exception cref="ArgumentException">Invalid job id.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="outputOffset"/> is negative.</exception>
    /// <exception cref="HostUnreachableException">The host cannot be reached.</exception>
    public async Task<HostJobState> PollAsync(string jobId, long outputOffset, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outputOffset);
        var dir = JobDirectory(jobId);
        var command = ShellCommand.Of(
            "/bin/sh",
            "-c",
            PollProgram,
            "jailwf-job-poll",
            dir,
            outputOffset.ToString(CultureInfo.InvariantCulture),
            MaxOutputChunk.ToString(CultureInfo.InvariantCulture));
        return await RunProgramAsync(jobId, command, outputOffset, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Kills the job: SIGKILL to every process of its session (the script, everything it started in whatever process
    /// group — make(1)'s jobs each have their own — and, on FreeBSD, daemon(8)'s supervisor), repeated until no
    /// process of the session is alive (10 seconds at most). A job that never started or already ended is left as it
    /// is (an ended job's leftover session members are killed too). Afterwards the job is
    /// <see cref="HostJobStatus.Lost"/> (or <see cref="HostJobStatus.Exited"/> if it had ended).
    /// </summary>
    /// <param name="jobId">The job id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The state after the kill, without output.</returns>
    /// <exception cref="ArgumentException">Invalid job id.</exception>
    /// <exception cref="HostCommandException">The recorded session (or, for a job directory without one, process group) is not a job's (0/1, or the killing shell's own: refused, exit status 73), or a process of the job was still alive 10 seconds after SIGKILL (exit status 74).</exception>
    /// <exception cref="HostUnreachableException">The host cannot be reached.</exception>
    /// <remarks>
    /// The processes are found with ps(1) <c>-A -o sid= -o pgid= -o pid= -o stat=</c> and killed with kill(1), each pid
    /// and each of the session's process groups (a group cannot leave its session, and a signal to a group also
    /// reaches a member forked after ps looked). pkill(1) <c>-s</c> would do the same on FreeBSD and Linux but is not
    /// POSIX, and ps and kill are what the liveness check already relies on.
    /// </remarks>
    public async Task<HostJobState> KillAsync(string jobId, CancellationToken cancellationToken = default)
    {
        var dir = JobDirectory(jobId);
        var command = ShellCommand.Of("/bin/sh", "-c", KillProgram, "jailwf-job-kill", dir);
        return await RunProgramAsync(jobId, command, 0, cancellationToken).ConfigureAwait(false);
    }

    private async Task<HostJobState> RunProgramAsync(string jobId, ShellCommand command, long outputOffset, CancellationToken cancellationToken)
    {
        var result = await Host.RunAsync(command, null, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new HostCommandException(Host.Name, command, result);
        }

        return Parse(jobId, result.StdOut, outputOffset);
    }

    /// <summary>Reads the host program's report (<c>status</c>, <c>exit</c>, <c>pid</c>, <c>pgid</c>, <c>sid</c>, <c>size</c>, <c>output</c> then od(1) hex).</summary>
    internal static HostJobState Parse(string jobId, string report, long outputOffset)
    {
        var status = (HostJobStatus?)null;
        int? exit = null, pid = null, pgid = null, sid = null;
        long size = 0;
        var bytes = new List<byte>();
        var inOutput = false;
        foreach (var line in report.Split('\n'))
        {
            if (inOutput)
            {
                foreach (var hex in line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                {
                    bytes.Add(byte.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                }

                continue;
            }

            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var key = space < 0 ? line : line[..space];
            var value = space < 0 ? string.Empty : line[(space + 1)..].Trim();
            switch (key)
            {
                case "status":
                    status = value switch
                    {
                        "notstarted" => HostJobStatus.NotStarted,
                        "running" => HostJobStatus.Running,
                        "exited" => HostJobStatus.Exited,
                        "lost" => HostJobStatus.Lost,
                        _ => throw new FormatException($"Unknown host job status '{value}' for job '{jobId}'."),
                    };
                    break;
                case "exit":
                    exit = ParseInt(value);
                    break;
                case "pid":
                    pid = ParseInt(value);
                    break;
                case "pgid":
                    pgid = ParseInt(value);
                    break;
                case "sid":
                    sid = ParseInt(value);
                    break;
                case "size":
                    size = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 0;
                    break;
                case "output":
                    inOutput = true;
                    break;
                default:
                    break;
            }
        }

        if (status is null)
        {
            throw new FormatException($"The host reported no status for job '{jobId}': '{report}'.");
        }

        if (status == HostJobStatus.Exited && exit is null)
        {
            // The exit file held something other than a number: report it as a failure, never as success.
            exit = -1;
        }

        var newOffset = outputOffset + bytes.Count;
        return new HostJobState(jobId, status.Value, exit, pid, pgid, [.. bytes], newOffset, size > newOffset && bytes.Count > 0) { Session = sid };
    }

    private static int? ParseInt(string value) =>
        int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;
}
