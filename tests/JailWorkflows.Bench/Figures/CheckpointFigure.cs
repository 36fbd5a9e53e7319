using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using JailWorkflows.Engine.Activities;
using JailWorkflows.Engine.Store;
using JailWorkflows.Plans;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WorkflowCore.Models;

namespace JailWorkflows.Bench.Figures;

/// <summary>
/// Issue 7, figure 1: the cost of a checkpoint. (a) Commit latency of a step's state through our store
/// (<see cref="SqlitePersistenceProvider.PersistWorkflow(WorkflowInstance, CancellationToken)"/> on a SQLite file in WAL mode),
/// interleaved with a bare Microsoft.Data.Sqlite UPDATE of the same checkpoint size on the same file system (the floor).
/// (b) Trivial-step throughput through WorkflowCore with our store against WorkflowCore with its in-memory store
/// (<see cref="StepThroughputBenchmarks"/>, BenchmarkDotNet).
/// </summary>
internal sealed class CheckpointFigure : Figure
{
    private const double CommitTargetMs = 2;
    private const double ThroughputTarget = 0.5;

    public override string Name => "checkpoint";

    public override string Title => "Checkpoint cost";

    public override async Task<FigureReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var dir = Directory.CreateDirectory(Path.Combine(context.WorkDirectory, "checkpoint")).FullName;
        var plan = PlanLoader.Load(Path.Combine(context.RepositoryRoot, "workflows", "plans", "example.yaml"));
        var warmup = context.Quick ? 100 : 500;
        var samples = context.Quick ? 1000 : 5000;

        context.Progress($"commit latency: {warmup} warm-up + {samples} commits each, ours and the bare SQLite floor interleaved");
        var (ours, floor, checkpointBytes) = await CommitLatencyAsync(dir, plan, warmup, samples, cancellationToken).ConfigureAwait(false);

        context.Progress($"step throughput (BenchmarkDotNet, in-process): 1 and 10 instances x {StepThroughputBenchmarks.Steps} trivial steps per operation, in-memory store and ours");
        var (throughput, iterations) = StepThroughput(dir, plan, context.Quick);
        double Rate(int instances, string method) => instances * StepThroughputBenchmarks.Steps / throughput[(method, instances)].TotalSeconds;
        var memoryRate = Rate(10, nameof(StepThroughputBenchmarks.InMemory));
        var sqliteRate = Rate(10, nameof(StepThroughputBenchmarks.Sqlite));
        var ratio = sqliteRate / memoryRate;
        var memoryRate1 = Rate(1, nameof(StepThroughputBenchmarks.InMemory));
        var sqliteRate1 = Rate(1, nameof(StepThroughputBenchmarks.Sqlite));

        var p50 = Percentiles.Of(ours, 50);
        var p99 = Percentiles.Of(ours, 99);
        var floor50 = Percentiles.Of(floor, 50);
        var floor99 = Percentiles.Of(floor, 99);
        var measurements = new List<Measurement>
        {
            new("checkpoint commit latency p50 (our store, SQLite WAL)", Ms(p50), $"{p50 / floor50:0.0}x the bare SQLite UPDATE ({Ms(floor50)})", $"<= {CommitTargetMs} ms", p50 <= CommitTargetMs),
            new("checkpoint commit latency p99", Ms(p99), $"{p99 / floor99:0.0}x the bare SQLite UPDATE ({Ms(floor99)})"),
            new("trivial steps per second, WorkflowCore + our store, 10 instances at once", PerSecond(sqliteRate), $"{ratio:0.000}x WorkflowCore + in-memory store ({PerSecond(memoryRate)})", $">= {ThroughputTarget} of in-memory", ratio >= ThroughputTarget),
            new("trivial steps per second, one instance alone", PerSecond(sqliteRate1), $"{sqliteRate1 / memoryRate1:0.000}x WorkflowCore + in-memory store ({PerSecond(memoryRate1)})"),
            new("trivial step time, WorkflowCore + our store, one instance alone", Ms(1000 / sqliteRate1), $"{1000 / sqliteRate1 / p50:0.0}x a checkpoint commit (p50)"),
        };

        var mean = (string method, int instances) => throughput[(method, instances)].TotalMilliseconds.ToString("0.##", CultureInfo.InvariantCulture);
        var method = string.Create(CultureInfo.InvariantCulture, $"""
            **Commit latency**: a consolidation instance (the plan of `workflows/plans/example.yaml` as its data, three
            execution pointers, the third active) is stored with our `SqlitePersistenceProvider` on a fresh SQLite file (WAL,
            `synchronous=NORMAL`, as the engine opens it) in the bench's work directory. Each commit changes the active
            pointer's `PersistenceData` (an `ActivityState`: phase, job id, a growing output offset; {checkpointBytes} bytes
            stored) and its wake-up time and calls `PersistWorkflow`, as WorkflowCore does after a step returns `Sleep` with a
            checkpoint. Every commit is timed alone (Stopwatch): {warmup} warm-up commits, then {samples}; the last checkpoint
            is read back to check it was stored. The floor is the least any SQLite store can do for it: one open connection
            with the same pragmas, `BEGIN; UPDATE` of one row with a text of the same size `; COMMIT`, in a second file in the
            same directory, one floor commit after each of ours (interleaved). Nearest-rank percentiles.

            **Step throughput** (BenchmarkDotNet {typeof(BenchmarkRunner).Assembly.GetName().Version?.ToString(3)}, in-process
            emit toolchain, 2 warm-up and {iterations} measured iterations of one invocation each): one operation starts 1 or
            10 instances (a BenchmarkDotNet parameter) of a chain of {StepThroughputBenchmarks.Steps} trivial steps (a
            `StepBody` that returns `Next`, compiled as the engine compiles its definitions, with the same plan as instance
            data) and ends when the last instance is *stored* as complete (a counting wrapper around the store, on both
            sides). Baseline: WorkflowCore 3.22 with its default store (`MemoryPersistenceProvider`); ours: the same host with
            `SqlitePersistenceProvider`. Both hosts are configured alike, as the engine configures its own: poll interval
            {StepThroughputBenchmarks.PollInterval.TotalSeconds:0.#} s, idle time {StepThroughputBenchmarks.IdleTime.TotalMilliseconds:0} ms,
            WorkflowCore's default concurrency (MaxConcurrentWorkflows = max(cores, 4)), single-node queue and lock, index
            consumer on. Neither interval paces the chain: WorkflowCore runs one step per pass and persists the instance
            after each, and when the next step is due at once its consumer queues the instance again without waiting
            (`WorkflowConsumer.FutureQueue`; the queue's dequeue blocks rather than polls); the runnable poller only finds
            instances that are queued already. Steps per second = instances x steps / BenchmarkDotNet's mean operation time
            (10 instances: in-memory {mean(nameof(StepThroughputBenchmarks.InMemory), 10)} ms, ours
            {mean(nameof(StepThroughputBenchmarks.Sqlite), 10)} ms; one instance: in-memory
            {mean(nameof(StepThroughputBenchmarks.InMemory), 1)} ms, ours {mean(nameof(StepThroughputBenchmarks.Sqlite), 1)} ms).
            """);
        var notes = new List<string>();
        if (p50 > CommitTargetMs)
        {
            notes.Add($"Commit p50 misses {CommitTargetMs} ms: the bare SQLite commit on this file system takes {Ms(floor50)}, ours {p50 / floor50:0.0}x that (an EF Core context from the pool, a SELECT of the instance with its pointers, change tracking, then the UPDATE).");
        }

        if (ratio < ThroughputTarget)
        {
            notes.Add($"Step throughput misses {ThroughputTarget} of in-memory ({ratio:0.000}): a trivial step costs {Ms(1000 / sqliteRate1)} with our store against {Ms(1000 / memoryRate1)} in memory (one instance alone). WorkflowCore reads the instance (all its pointers and its data) from the store before every step, saves it after every step, and its index consumer reads it once more; the in-memory store hands out the same object, so each of those costs nothing there. No store that commits to disk comes near half of that with steps that do nothing (our commit alone is {Ms(p50)} p50); JailWorkflows' steps take seconds to hours of host work (DESIGN.md D2), beside which a few milliseconds per step do not count.");
        }

        return new FigureReport(measurements, method, notes);
    }

    private static async Task<(List<double> Ours, List<double> Floor, long CheckpointBytes)> CommitLatencyAsync(
        string dir, Plan plan, int warmup, int samples, CancellationToken cancellationToken)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddJailwfStore(Path.Combine(dir, "checkpoint.db"));
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<SqlitePersistenceProvider>();
        store.EnsureStoreExists();

        var now = DateTime.UtcNow;
        var active = new ExecutionPointer
        {
            Id = Guid.NewGuid().ToString(),
            StepId = 2,
            StepName = "transfer",
            Active = true,
            Status = PointerStatus.Sleeping,
            StartTime = now,
        };
        var instance = new WorkflowInstance
        {
            WorkflowDefinitionId = "consolidate-server",
            Version = 2,
            Status = WorkflowStatus.Runnable,
            Data = new ConsolidationData { Plan = plan, Server = plan.Servers[0].Name },
            CreateTime = now,
            NextExecution = now.Ticks,
            ExecutionPointers = new ExecutionPointerCollection(),
        };
        foreach (var (stepId, name) in new[] { (0, "preflight"), (1, "buildworld") })
        {
            instance.ExecutionPointers.Add(new ExecutionPointer
            {
                Id = Guid.NewGuid().ToString(),
                StepId = stepId,
                StepName = name,
                Active = false,
                Status = PointerStatus.Complete,
                StartTime = now,
                EndTime = now,
                PersistenceData = new ActivityState { Phase = "done", JobId = $"{name}-0" },
            });
        }

        instance.ExecutionPointers.Add(active);
        await store.CreateNewWorkflow(instance, cancellationToken).ConfigureAwait(false);

        var checkpoint = 0L;
        void Checkpoint(long i)
        {
            checkpoint = i;
            active.PersistenceData = new ActivityState
            {
                Phase = "transferring",
                Index = 1,
                JobId = "transfer-ServerA-usr-0",
                OutputOffset = i * 4096,
                Values = { ["partition"] = "/usr", ["dumpLevel"] = "0" },
            };
            var wake = DateTime.UtcNow.AddSeconds(5);
            active.SleepUntil = wake;
            instance.NextExecution = wake.Ticks;
        }

        Checkpoint(1);
        await store.PersistWorkflow(instance, cancellationToken).ConfigureAwait(false);
        var checkpointBytes = StoredCheckpointBytes(Path.Combine(dir, "checkpoint.db"), active.Id);

        // The floor: a bare SQLite commit of a row of the checkpoint's size, the store's own pragmas, same directory.
        await using var floorDb = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(dir, "floor.db"), Pooling = false }.ToString());
        await floorDb.OpenAsync(cancellationToken).ConfigureAwait(false);
        Execute(floorDb, SqliteConnectionSetup.Pragmas);
        Execute(floorDb, "CREATE TABLE Checkpoints (Id TEXT PRIMARY KEY, PersistenceData TEXT NOT NULL); INSERT INTO Checkpoints VALUES ('p', '');");
        await using var update = floorDb.CreateCommand();
        update.CommandText = "UPDATE Checkpoints SET PersistenceData = $data WHERE Id = 'p'";
        var data = update.Parameters.Add("$data", SqliteType.Text);
        var payload = new string('x', (int)checkpointBytes - 8);

        var ours = new List<double>(samples);
        var floor = new List<double>(samples);
        for (var i = 0; i < warmup + samples; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Checkpoint(checkpoint + 1);
            var started = Stopwatch.GetTimestamp();
            await store.PersistWorkflow(instance, cancellationToken).ConfigureAwait(false);
            var oursMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;

            started = Stopwatch.GetTimestamp();
            await using (var tx = await floorDb.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
            {
                update.Transaction = (SqliteTransaction)tx;
                data.Value = payload + i.ToString("D8", CultureInfo.InvariantCulture);
                await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            var floorMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (i >= warmup)
            {
                ours.Add(oursMs);
                floor.Add(floorMs);
            }
        }

        // The store really holds the last checkpoint (a benchmark of a store that drops writes would be fast).
        var stored = await store.GetWorkflowInstance(instance.Id, cancellationToken).ConfigureAwait(false);
        var last = stored?.ExecutionPointers.FindById(active.Id)?.PersistenceData as ActivityState;
        if (last?.OutputOffset != checkpoint * 4096)
        {
            throw new InvalidOperationException($"the store holds output offset {last?.OutputOffset}, not the last checkpoint's {checkpoint * 4096}");
        }

        SqliteConnection.ClearAllPools();
        return (ours, floor, checkpointBytes);

        static void Execute(SqliteConnection connection, string sql)
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }
    }

    private static long StoredCheckpointBytes(string database, string pointerId)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT length(CAST(PersistenceData AS BLOB)) FROM ExecutionPointers WHERE Id = $id";
        command.Parameters.AddWithValue("$id", pointerId);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static (Dictionary<(string Method, int Instances), TimeSpan> Means, int Iterations) StepThroughput(string dir, Plan plan, bool quick)
    {
        StepThroughputBenchmarks.DatabasePath = Path.Combine(dir, "throughput.db");
        StepThroughputBenchmarks.Plan = plan;
        var iterations = quick ? 5 : 15;
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(2)
            .WithIterationCount(iterations)
            .WithInvocationCount(1)
            .WithUnrollFactor(1);
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddLogger(NullLogger.Instance)
            .WithArtifactsPath(Path.Combine(dir, "BenchmarkDotNet.Artifacts"))
            .WithOptions(ConfigOptions.DisableLogFile);
        var summary = BenchmarkRunner.Run<StepThroughputBenchmarks>(config);
        var means = new Dictionary<(string, int), TimeSpan>();
        foreach (var report in summary.Reports)
        {
            var method = report.BenchmarkCase.Descriptor.WorkloadMethod.Name;
            var instances = (int)report.BenchmarkCase.Parameters[nameof(StepThroughputBenchmarks.Instances)];
            var stats = report.ResultStatistics
                ?? throw new InvalidOperationException($"BenchmarkDotNet measured nothing for {method} with {instances} instances");
            means[(method, instances)] = TimeSpan.FromMilliseconds(stats.Mean / 1e6);
        }

        if (means.Count != 4)
        {
            throw new InvalidOperationException($"BenchmarkDotNet measured {means.Count} of 4 cases: {string.Join("; ", summary.ValidationErrors.Select(e => e.Message))}");
        }

        return (means, iterations);
    }

    private static string Ms(double ms) => ms.ToString(ms < 0.1 ? "0.000" : ms < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " ms";

    private static string PerSecond(double perSecond) => perSecond.ToString("#,0", CultureInfo.InvariantCulture) + " steps/s";
}
