using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using JailWorkflows.Lab;
using JailWorkflows.Plans;
using Microsoft.Data.Sqlite;

namespace JailWorkflows.Bench.Figures;

/// <summary>
/// Issue 7, figure 6: 50 concurrent small lab consolidations on one engine (a real <c>jailwf run</c> process): all
/// complete, no SQLITE_BUSY, the engine's peak RSS and its CPU while idle between polls; against 1 consolidation run the
/// same way in the same run (the concurrency gain) and that engine's idle CPU with one instance.
/// </summary>
internal sealed partial class ScaleFigure : Figure
{
    private const string Definition = "bench-consolidate-small";
    private const string LabDirectory = "/var/tmp/jailwf-lab-bench-scale";
    private const string Source = "ServerC";
    private const double PollSeconds = 1;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public override string Name => "scale";

    /// <inheritdoc />
    public override string Title => "Scale: concurrent consolidations on one engine";

    /// <inheritdoc />
    public override bool NeedsLab => true;

    /// <inheritdoc />
    public override async Task<FigureReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var count = context.Quick ? 10 : 50;
        var idleFor = TimeSpan.FromSeconds(context.Quick ? 10 : 30);
        context.Progress("scale: waiting for the machine-wide lab lease (/run/jailwf-lab.lock)");
        using var lease = await LabLease.AcquireAsync(TimeSpan.FromMinutes(45), cancellationToken).ConfigureAwait(false);
        var lab = new JailWorkflows.Lab.Lab(new LabOptions { Directory = LabDirectory, BuildStageSeconds = 0.1 });
        try
        {
            context.Progress($"scale: lab up in {LabDirectory}");
            var info = await lab.UpAsync(cancellationToken).ConfigureAwait(false);
            var workflows = Path.Combine(context.WorkDirectory, "scale", "workflows");
            Directory.CreateDirectory(workflows);
            await File.WriteAllTextAsync(Path.Combine(workflows, Definition + ".json"), DefinitionJson(context.Time.GetUtcNow()), cancellationToken).ConfigureAwait(false);

            context.Progress($"scale: 1 consolidation of {Source} (reference)");
            var one = await RunAsync(context, info, workflows, "one", 1, idleFor, cancellationToken).ConfigureAwait(false);
            context.Progress($"scale: {count} concurrent consolidations of {Source} on one engine");
            var many = await RunAsync(context, info, workflows, "many", count, idleFor, cancellationToken).ConfigureAwait(false);

            var gain = one.Wall.TotalSeconds * count / many.Wall.TotalSeconds;
            var notes = new List<string>();
            if (many.Done < count)
            {
                notes.Add($"{count - many.Done} of {count} did not complete: {many.Failure}");
            }

            if (many.Busy > 0)
            {
                notes.Add($"SQLITE_BUSY seen {many.Busy} times: {many.BusySample}");
            }

            if (many.IdleRun > 2 * many.IdleServe && many.IdleRun > 2 * one.IdleRun)
            {
                notes.Add($"While idle, the `jailwf run` process costs {many.IdleRun / one.IdleRun:0.0}x with {count} sleeping instances what it costs with 1 ({Pct(many.IdleRun)} against {Pct(one.IdleRun)}), while the engine alone (`jailwf serve`) stays at {Pct(many.IdleServe)}: the CLI's follow loop (`Monitor.FollowAsync`) reads every followed instance's whole view (`InstanceQueries.ViewAsync`) when the store changed and at least every 5 s, so its cost grows with the instances followed; `jailwf serve` has no such loop.");
            }

            return new FigureReport(
                [
                    new Measurement($"{count} concurrent consolidations: wall time", Secs(many.Wall), $"1 consolidation: {Secs(one.Wall)}; {count} x 1 / {count} concurrent = {gain:0.0}x (concurrency gain)"),
                    new Measurement("instances completed", $"{many.Done} of {count}", $"1 of 1: {one.Done}", "all", many.Done == count),
                    new Measurement("SQLITE_BUSY / \"database is locked\" (engine output, journal, execution errors)", many.Busy.ToString(CultureInfo.InvariantCulture), $"1 consolidation: {one.Busy}", "0", many.Busy == 0),
                    new Measurement("engine peak RSS (VmHWM)", Mib(many.PeakRss), $"1 consolidation: {Mib(one.PeakRss)}"),
                    new Measurement($"engine CPU while idle: `jailwf serve`, {count} instances asleep ({idleFor.TotalSeconds:0} s)", Pct(many.IdleServe), $"1 instance asleep: {Pct(one.IdleServe)}"),
                    new Measurement($"`jailwf run` process while idle (engine + its follow loop), {count} asleep", Pct(many.IdleRun), $"1 instance asleep: {Pct(one.IdleRun)}"),
                ],
                $"""
                The lab is brought up in its own directory under the machine-wide lease. One plan holds {count} servers that all
                point at the lab's smallest source, {Source} (`/` and `/usr`; the plan model requires unique server names,
                jail names and jail IPs, not unique source addresses), each with its own jail name and jail IP
                (127.0.21.1-{count}; the reference uses 127.0.21.100), in jails, obj, jobs and state directories of its own run.
                The definition `{Definition}` is consolidate-server without its cutover and merge-etc steps (merge-etc
                stops {Source} for a person's approval): preflight, buildworld (one build per run, shared by every
                instance through its host job id), transfer (`ssh … dump -0 | restore -rf -` over the jail host's sshd),
                strip, installworld, start the jail, verify it, then a `WaitForWindow` on a window that opens hours later,
                so that each instance ends asleep in the store. One real `jailwf run {Definition} --poll {PollSeconds:0}`
                process runs all of them; *completed* is the verify step's "done" row in the journal, read from the SQLite
                file once a second; wall time is from the spawn to the last such row. Then, with every instance asleep, the
                `jailwf run` process's utime+stime (/proc/&lt;pid&gt;/stat) over {idleFor.TotalSeconds:0} s (after {Settle.TotalSeconds:0} s to settle) gives its idle CPU (the engine
                plus the CLI's follow loop, which reads every instance's view when the store changed (SQLite `PRAGMA data_version`, looked at twice a second) and at least every 5 s); its VmHWM is read before it is
                stopped (SIGTERM). Then `jailwf serve` (the long-running engine: no follow loop; its HTTP API on a free loopback
                port, no schedules) is started on the same database: it wakes every sleeping instance once (each journals
                "still waiting…"), and its utime+stime over the next {idleFor.TotalSeconds:0} s is *the engine's CPU while idle
                between polls* (store poll every 1 s). SQLITE_BUSY is counted as "database is locked" or "SQLITE_BUSY" in the
                output of both processes and in the journal's and WorkflowCore's execution-error rows. The reference (1 server) runs
                first in the same way; the lab is brought down at the end, also on failure.
                """,
                notes);
        }
        finally
        {
            context.Progress("scale: lab down");
            await lab.DownAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static async Task<RunResult> RunAsync(BenchContext context, LabInfo info, string workflows, string name, int count, TimeSpan idleFor, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(info.JailHost.Directory, "bench-scale", name);
        Directory.CreateDirectory(dir);
        var own = info.ToPlan(dir);
        var source = own.Server(Source);
        var servers = Enumerable.Range(1, count).Select(i => source with
        {
            Name = count == 1 ? "Scale" : string.Create(CultureInfo.InvariantCulture, $"Scale{i:00}"),
            Jail = source.Jail with
            {
                Name = count == 1 ? "scale-one" : string.Create(CultureInfo.InvariantCulture, $"scale{i:00}"),
                Hostname = count == 1 ? "scale-one.lab" : string.Create(CultureInfo.InvariantCulture, $"scale{i:00}.lab"),
                Ip = count == 1 ? "127.0.21.100" : string.Create(CultureInfo.InvariantCulture, $"127.0.21.{i}"),
            },
            Cutover = false,
        }).ToList();
        var plan = own with { Servers = servers };
        var planFile = Path.Combine(dir, "plan.yaml");
        await File.WriteAllTextAsync(planFile, PlanWriter.ToYaml(plan), cancellationToken).ConfigureAwait(false);
        var database = Path.Combine(context.WorkDirectory, "scale", name + ".db");

        using var engine = EngineProcess.Start("run", Definition, "--plan", planFile, "--db", database, "--workflows", workflows, "--poll", PollSeconds.ToString(CultureInfo.InvariantCulture));
        try
        {
            // Completed: the verify step's "done"; settled: completed or failed (an incident). Read once a second.
            var deadline = Stopwatch.GetTimestamp() + (long)(TimeSpan.FromMinutes(count == 1 ? 10 : 30).TotalSeconds * Stopwatch.Frequency);
            long? lastDone = null;
            (int Done, int Failed, int Asleep) progress;
            while (true)
            {
                progress = await ProgressAsync(database, cancellationToken).ConfigureAwait(false);
                if (progress.Done == count && lastDone is null)
                {
                    lastDone = Stopwatch.GetTimestamp();
                }

                if (progress.Done + progress.Failed >= count && progress.Asleep >= progress.Done)
                {
                    break;
                }

                if (engine.HasExited || Stopwatch.GetTimestamp() > deadline)
                {
                    break;
                }

                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }

            var wall = TimeSpan.FromSeconds(((lastDone ?? Stopwatch.GetTimestamp()) - engine.StartedAt) / (double)Stopwatch.Frequency);
            context.Progress($"scale/{name}: {progress.Done} completed, {progress.Failed} failed in {wall.TotalSeconds:0.0} s; measuring idle CPU for {idleFor.TotalSeconds:0} s");

            // Idle: every instance asleep in its last step; the engine only polls the store (and `run` follows them).
            var idleRun = engine.HasExited ? double.NaN : await IdleCpuAsync(engine, idleFor, cancellationToken).ConfigureAwait(false);
            var peak = engine.PeakRss() ?? 0;
            await engine.TerminateAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            var output = engine.Output;

            // The same instances under `jailwf serve`, the long-running engine (no follow loop): it wakes each sleeping
            // instance once at its start (each journals "still waiting…"), then only polls the store.
            var idleServe = double.NaN;
            if (progress.Done > 0)
            {
                var after = await CountAsync(database, "SELECT coalesce(max(Id), 0) FROM JournalEntries", cancellationToken).ConfigureAwait(false);
                using var serve = EngineProcess.Start("serve", "--db", database, "--workflows", workflows, "--poll", PollSeconds.ToString(CultureInfo.InvariantCulture), "--urls", $"http://127.0.0.1:{FreePort()}");
                try
                {
                    var serveDeadline = Stopwatch.GetTimestamp() + (long)(120 * Stopwatch.Frequency);
                    while (await CountAsync(database, string.Create(CultureInfo.InvariantCulture, $"SELECT count(DISTINCT InstanceId) FROM JournalEntries WHERE Id > {after} AND Step = 'idle' AND Message LIKE 'still waiting for the maintenance window%'"), cancellationToken).ConfigureAwait(false) < progress.Done)
                    {
                        if (serve.HasExited || Stopwatch.GetTimestamp() > serveDeadline)
                        {
                            throw new InvalidOperationException($"jailwf serve did not wake the {progress.Done} sleeping instances within 120 s:\n{serve.Output}");
                        }

                        await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
                    }

                    idleServe = await IdleCpuAsync(serve, idleFor, cancellationToken).ConfigureAwait(false);
                    await serve.TerminateAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                    output += serve.Output;
                }
                finally
                {
                    serve.Kill();
                }
            }

            var (busy, sample) = await BusyAsync(database, output, cancellationToken).ConfigureAwait(false);
            var failure = progress.Failed > 0 || progress.Done < count
                ? $"{progress.Failed} incidents; engine output (tail): {string.Join(" / ", output.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(6))}"
                : null;
            return new RunResult(wall, progress.Done, busy, sample, peak, idleServe, idleRun, failure);
        }
        finally
        {
            engine.Kill();
        }
    }

    /// <summary>utime+stime of the process over <paramref name="span"/>, as % of one core.</summary>
    private static async Task<double> IdleCpuAsync(EngineProcess engine, TimeSpan span, CancellationToken cancellationToken)
    {
        // A few seconds first, so the start's (or the last run's) tail (tiered JIT, GC) is not counted as idle.
        await Task.Delay(Settle, cancellationToken).ConfigureAwait(false);
        var before = engine.CpuTime() ?? throw new InvalidOperationException($"jailwf (pid {engine.Pid}) is gone:\n{engine.Output}");
        var started = Stopwatch.GetTimestamp();
        await Task.Delay(span, cancellationToken).ConfigureAwait(false);
        var after = engine.CpuTime() ?? throw new InvalidOperationException($"jailwf (pid {engine.Pid}) exited while idle:\n{engine.Output}");
        var elapsed = (Stopwatch.GetTimestamp() - started) / (double)Stopwatch.Frequency;
        return (after - before).TotalSeconds / elapsed * 100;
    }

    private static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static async Task<int> CountAsync(string database, string sql, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(database, cancellationToken).ConfigureAwait(false);
        return await CountAsync(connection, sql, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<(int Done, int Failed, int Asleep)> ProgressAsync(string database, CancellationToken cancellationToken)
    {
        if (!File.Exists(database))
        {
            return (0, 0, 0);
        }

        try
        {
            await using var connection = await OpenAsync(database, cancellationToken).ConfigureAwait(false);
            return (
                await CountAsync(connection, "SELECT count(DISTINCT InstanceId) FROM JournalEntries WHERE Step = 'verify' AND Kind = 'StepFinished'", cancellationToken).ConfigureAwait(false),
                await CountAsync(connection, "SELECT count(DISTINCT InstanceId) FROM JournalEntries WHERE Kind = 'StepFailed'", cancellationToken).ConfigureAwait(false),
                await CountAsync(connection, "SELECT count(DISTINCT InstanceId) FROM JournalEntries WHERE Step = 'idle' AND Message LIKE 'waiting for the maintenance window%'", cancellationToken).ConfigureAwait(false));
        }
        catch (SqliteException)
        {
            return (0, 0, 0); // the engine is still creating the database
        }
    }

    private static async Task<(int Count, string? Sample)> BusyAsync(string database, string output, CancellationToken cancellationToken)
    {
        var matches = BusyPattern().Matches(output);
        var sample = matches.Count > 0 ? output.Split('\n').First(l => BusyPattern().IsMatch(l)).Trim() : null;
        await using var connection = await OpenAsync(database, cancellationToken).ConfigureAwait(false);
        var journal = await CountAsync(connection, "SELECT count(*) FROM JournalEntries WHERE Message LIKE '%database is locked%' OR Message LIKE '%SQLITE_BUSY%'", cancellationToken).ConfigureAwait(false);
        var errors = await CountAsync(connection, "SELECT count(*) FROM ExecutionErrors WHERE Message LIKE '%database is locked%' OR Message LIKE '%SQLITE_BUSY%'", cancellationToken).ConfigureAwait(false);
        return (matches.Count + journal + errors, sample ?? (journal + errors > 0 ? "in the journal or execution errors" : null));
    }

    private static async Task<SqliteConnection> OpenAsync(string database, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false, DefaultTimeout = 5 }.ToString());
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    private static async Task<int> CountAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    private static string DefinitionJson(DateTimeOffset now)
    {
        var opens = TimeOnly.FromDateTime(now.UtcDateTime).AddHours(6);
        (string Id, string Activity, JsonObject? Inputs)[] steps =
        [
            ("preflight", "Preflight", null),
            ("buildworld", "BuildWorld", null),
            ("transfer", "TransferPartitions", new JsonObject { ["dumpLevel"] = 0 }),
            ("strip", "Strip", null),
            ("installworld", "InstallWorld", null),
            ("start", "StartJail", null),
            ("verify", "VerifyJail", null),
            ("idle", "WaitForWindow", new JsonObject { ["start"] = opens.ToString("HH:mm", CultureInfo.InvariantCulture), ["end"] = opens.AddHours(1).ToString("HH:mm", CultureInfo.InvariantCulture), ["timeZone"] = "UTC" }),
        ];
        var array = new JsonArray();
        foreach (var (id, activity, inputs) in steps)
        {
            var node = new JsonObject { ["id"] = id, ["activity"] = activity, ["title"] = activity };
            if (inputs is not null)
            {
                node["inputs"] = inputs;
            }

            array.Add(node);
        }

        return new JsonObject { ["id"] = Definition, ["version"] = 1, ["title"] = "Scale bench: a small consolidation, then asleep", ["steps"] = array }.ToJsonString();
    }

    private static string Pct(double percent) => double.IsNaN(percent) ? "n/a" : $"{percent:0.0} % of one core";

    private static string Secs(TimeSpan t) => $"{t.TotalSeconds:0.0} s";

    private static string Mib(long bytes) => $"{bytes / 1024.0 / 1024.0:0} MiB";

    [GeneratedRegex("database is locked|SQLITE_BUSY", RegexOptions.IgnoreCase)]
    private static partial Regex BusyPattern();

    private sealed record RunResult(TimeSpan Wall, int Done, int Busy, string? BusySample, long PeakRss, double IdleServe, double IdleRun, string? Failure);
}
