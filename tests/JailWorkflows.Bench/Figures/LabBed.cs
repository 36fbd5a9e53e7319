using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Hosts;
using JailWorkflows.Lab;
using JailWorkflows.Plans;
using JailWorkflows.Shell;

namespace JailWorkflows.Bench.Figures;

/// <summary>
/// A lab of a lab figure's own (its own directory, e.g. <c>/var/tmp/jailwf-lab-bench-transfer</c>), held under the
/// machine-wide lease: <see cref="UpAsync"/> waits for the lease and brings the lab up, <see cref="DisposeAsync"/>
/// brings it down and releases the lease, also after a failure.
/// </summary>
internal sealed class BenchLab : IAsyncDisposable
{
    private readonly JailWorkflows.Lab.Lab _lab;
    private readonly LabLease _lease;

    private BenchLab(JailWorkflows.Lab.Lab lab, LabLease lease, LabInfo info)
    {
        _lab = lab;
        _lease = lease;
        Info = info;
    }

    /// <summary>The running lab.</summary>
    public LabInfo Info { get; }

    /// <summary>Takes the lease (waiting up to 45 minutes for other runs) and brings a lab up with <paramref name="options"/>.</summary>
    public static async Task<BenchLab> UpAsync(BenchContext context, LabOptions options, CancellationToken ct)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("This figure needs the lab, and the lab needs root (loop devices, namespaces, sshd on port 22 of loopback addresses).");
        }

        context.Progress("waiting for the lab lease (/run/jailwf-lab.lock)");
        var lease = await LabLease.AcquireAsync(TimeSpan.FromMinutes(45), ct).ConfigureAwait(false);
        var lab = new JailWorkflows.Lab.Lab(options);
        try
        {
            context.Progress($"bringing the lab up in {options.Directory}");
            var info = await lab.UpAsync(ct).ConfigureAwait(false);
            return new BenchLab(lab, lease, info);
        }
        catch
        {
            try
            {
                await lab.DownAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                lease.Dispose();
            }

            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _lab.DownAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _lease.Dispose();
        }
    }
}

/// <summary>
/// One consolidation setting on a <see cref="BenchLab"/>: the lab's plan for one server with its own jails, obj, jobs and
/// state directories (and optionally its own copy of the src tree), a workflows directory with small definitions, and
/// the database; jailwf runs as its own process (the CLI next to the bench), as an operator runs it.
/// </summary>
internal sealed class LabBed
{
    private LabBed(string directory, Plan plan)
    {
        Directory = directory;
        Plan = plan;
    }

    public string Directory { get; }

    public Plan Plan { get; }

    public string PlanFile => Path.Combine(Directory, "plan.yaml");

    public string Database => Path.Combine(Directory, "jailwf.db");

    public string Workflows => Path.Combine(Directory, "workflows");

    public string JobsDir => Plan.JailHost.JobsDir;

    public string JailRoot => Path.Combine(Plan.JailHost.JailsDir, Plan.Servers[0].Jail.Name);

    /// <summary>
    /// Creates the bed in <c>&lt;lab&gt;/jailhost/bench/&lt;name&gt;</c> (removed first when present).
    /// <paramref name="partitions"/> keeps only those mount points of the server (null: all); <paramref name="buildStageSeconds"/>
    /// gives the bed its own copy of the src tree with that LAB_STAGE_SECONDS. <paramref name="definitions"/> are
    /// (id, steps) with steps as (step id, activity); every step retries after a short backoff (3 attempts, 1 s).
    /// </summary>
    public static async Task<LabBed> CreateAsync(
        LabInfo lab, string name, string server, string jailIp, IReadOnlyCollection<string>? partitions, double? buildStageSeconds,
        params (string Id, (string Step, string Activity)[] Steps)[] definitions)
    {
        var dir = Path.Combine(lab.JailHost.Directory, "bench", name);
        await RemoveTreeAsync(dir).ConfigureAwait(false);
        System.IO.Directory.CreateDirectory(dir);
        string? src = null;
        if (buildStageSeconds is { } seconds)
        {
            src = Path.Combine(dir, "src");
            await Local.CheckedAsync("cp", "-a", lab.JailHost.SrcDir, src).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(src, "lab.conf"), FormattableString.Invariant($"LAB_STAGE_SECONDS={seconds}\n")).ConfigureAwait(false);
        }

        var own = lab.ToPlan(dir, src);
        var source = own.Server(server);
        var plan = own with
        {
            Servers =
            [
                source with
                {
                    Jail = source.Jail with { Name = "b" + name.Replace("-", string.Empty, StringComparison.Ordinal), Ip = jailIp },
                    Partitions = partitions is null ? source.Partitions : source.Partitions.Where(p => partitions.Contains(p.MountPoint)).ToList(),
                },
            ],
        };
        var bed = new LabBed(dir, plan);
        await File.WriteAllTextAsync(bed.PlanFile, PlanWriter.ToYaml(plan)).ConfigureAwait(false);
        System.IO.Directory.CreateDirectory(bed.Workflows);
        foreach (var (id, steps) in definitions)
        {
            var array = new JsonArray();
            foreach (var (step, activity) in steps)
            {
                array.Add(new JsonObject
                {
                    ["id"] = step,
                    ["activity"] = activity,
                    ["title"] = activity,
                    ["retry"] = new JsonObject { ["maxAttempts"] = 3, ["backoffSeconds"] = 1, ["maxBackoffSeconds"] = 2 },
                });
            }

            var document = new JsonObject { ["id"] = id, ["version"] = 1, ["title"] = id, ["steps"] = array };
            await File.WriteAllTextAsync(Path.Combine(bed.Workflows, id + ".json"), document.ToJsonString()).ConfigureAwait(false);
        }

        return bed;
    }

    /// <summary>Removes the bed's directory (restored trees carry immutable flags: cleared first).</summary>
    public Task RemoveAsync() => RemoveTreeAsync(Directory);

    /// <summary><c>chattr -R -i</c> then a recursive delete; nothing when <paramref name="dir"/> is missing.</summary>
    public static async Task RemoveTreeAsync(string dir)
    {
        if (System.IO.Directory.Exists(dir))
        {
            await Local.RunAsync("chattr", "-R", "-i", dir).ConfigureAwait(false);
            await Local.CheckedAsync("rm", "-rf", dir).ConfigureAwait(false);
        }
    }

    /// <summary>The job poll interval given to jailwf (<c>--poll</c>, seconds); null for jailwf's default (2 s).</summary>
    public string? Poll { get; set; } = "0.3";

    private string[] Common => Poll is null ? ["--db", Database, "--workflows", Workflows] : ["--db", Database, "--workflows", Workflows, "--poll", Poll];

    public string[] RunArgs(string definition) => ["run", definition, "--plan", PlanFile, .. Common];

    public string[] RetryArgs(string instance, string reason) => ["retry", instance, "--reason", reason, .. Common];

    /// <summary>The one instance in the database, once it exists (null before).</summary>
    public async Task<InstanceView?> InstanceAsync()
    {
        if (!File.Exists(Database))
        {
            return null;
        }

        try
        {
            var (queries, owner) = InstanceQueries.Open(Database);
            await using (owner.ConfigureAwait(false))
            {
                return (await queries.ListAsync().ConfigureAwait(false)).SingleOrDefault();
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.Data.Common.DbException)
        {
            return null; // the engine is still creating the database and its schema
        }
    }

    public async Task<IReadOnlyList<JournalEntry>> JournalAsync(string instance)
    {
        var (queries, owner) = InstanceQueries.Open(Database);
        await using (owner.ConfigureAwait(false))
        {
            return await queries.JournalAsync(instance, 0, 1_000_000).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A host job's wall time on the jail host: from its <c>script</c> file (written as the job starts) to its <c>exit</c>
    /// file (written when the script ended), both modification times (nanoseconds on ext4).
    /// </summary>
    public TimeSpan HostJobTime(string jobId)
    {
        var dir = Path.Combine(JobsDir, jobId);
        return File.GetLastWriteTimeUtc(Path.Combine(dir, "exit")) - File.GetLastWriteTimeUtc(Path.Combine(dir, "script"));
    }

    /// <summary>A host job's process group, from its <c>pgid</c> file.</summary>
    public int JobGroup(string jobId) => int.Parse(File.ReadAllText(Path.Combine(JobsDir, jobId, "pgid")).Trim(), CultureInfo.InvariantCulture);

    /// <summary>The jail host (the lab's sshd on 127.0.10.1, host key pinned), for commands typed "by hand" there.</summary>
    public SshHost JailHost() => new(Plan.JailHost.Ssh!);
}

/// <summary>Journal helpers.</summary>
internal static class Journals
{
    /// <summary>The journal's wall time of a host job: from its JobStarted entry to its JobFinished entry.</summary>
    public static TimeSpan JobTime(IReadOnlyList<JournalEntry> journal, string jobId) =>
        journal.Single(e => e.Kind == JournalEntryKind.JobFinished && e.JobId == jobId).Timestamp
        - journal.Single(e => e.Kind == JournalEntryKind.JobStarted && e.JobId == jobId).Timestamp;

    /// <summary>The ids of the host jobs started, in order.</summary>
    public static List<string> Started(IReadOnlyList<JournalEntry> journal) =>
        journal.Where(e => e.Kind == JournalEntryKind.JobStarted).Select(e => e.JobId!).ToList();

    /// <summary>The journal without job output and progress, one entry a line, for error messages.</summary>
    public static string Describe(IEnumerable<JournalEntry> journal) =>
        string.Join('\n', journal.Where(e => e.Kind is not (JournalEntryKind.JobOutput or JournalEntryKind.Progress))
            .Select(e => $"  {e.Timestamp:HH:mm:ss.fff} {e.Step} {e.Kind} {e.JobId} {e.ExitStatus} {e.Message}"));
}

/// <summary>Local commands of the bench (chattr, rm, cp, kill), each checked.</summary>
internal static class Local
{
    public static async Task<(int Exit, string Output)> RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().ConfigureAwait(false);
        return (p.ExitCode, await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
    }

    public static async Task<string> CheckedAsync(string program, params string[] args)
    {
        var (exit, output) = await RunAsync(program, args).ConfigureAwait(false);
        return exit == 0 ? output : throw new InvalidOperationException($"{program} {string.Join(' ', args)}: exit {exit}: {output}");
    }

    /// <summary>SIGKILL to one process or (<paramref name="group"/>) a process group the bench's own runs started.</summary>
    public static Task KillAsync(int pid, bool group = false) =>
        pid > 1 ? CheckedAsync("kill", "-KILL", "--", (group ? "-" : string.Empty) + pid.ToString(CultureInfo.InvariantCulture))
            : throw new ArgumentOutOfRangeException(nameof(pid), pid, "refusing to kill that");

    /// <summary>Polls <paramref name="condition"/> every 20 ms until it holds; throws after <paramref name="timeout"/> naming <paramref name="what"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> condition, TimeSpan timeout, string what, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (await condition().ConfigureAwait(false) is { } value && (value is not bool b || b))
            {
                return value;
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"waited {timeout.TotalSeconds:0} s for {what}");
            }

            await Task.Delay(20, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The median of <paramref name="values"/>.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
