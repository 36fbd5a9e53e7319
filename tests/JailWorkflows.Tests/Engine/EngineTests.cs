using JailWorkflows.Engine;
using JailWorkflows.Engine.Definitions;
using JailWorkflows.Plans;
using JailWorkflows.Tests.Support;
using WorkflowCore.Models;

namespace JailWorkflows.Tests.Engine;

/// <summary>The engine on a real SQLite file: definition pinning and the one-engine-per-database lock.</summary>
public sealed class EngineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-engine-").FullName;

    private string Workflows => Directory.CreateDirectory(Path.Combine(_dir, "workflows")).FullName;

    private EngineOptions Options => new()
    {
        DatabasePath = Path.Combine(_dir, "jailwf.db"),
        WorkflowsDirectory = Workflows,
        JobPollInterval = TimeSpan.FromMilliseconds(200),
    };

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task An_instance_keeps_its_definition_version_and_a_changed_pinned_version_is_refused()
    {
        WriteDefinition(1, "verify");
        string instance;
        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            instance = await engine.StartInstanceAsync("pinning", LocalPlan(), "ServerA");
        }

        // A new version beside it: new instances get v2, the old one stays on v1.
        WriteDefinition(2, "verify-again");
        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            Assert.True(engine.Definitions.ContainsKey(("pinning", 1)));
            Assert.True(engine.Definitions.ContainsKey(("pinning", 2)));
            var second = await engine.StartInstanceAsync("pinning", LocalPlan("serverb"), "ServerA");
            Assert.Equal(2, (await engine.Queries.GetAsync(second))!.Version);
            Assert.Equal(1, (await engine.Queries.GetAsync(instance))!.Version);
        }

        // The file of v1 is deleted: v1 still comes from the store for its instance.
        File.Delete(Path.Combine(Workflows, "pinning-1.json"));
        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            Assert.True(engine.Definitions.ContainsKey(("pinning", 1)));
        }

        // Editing v1 in place is refused, naming the version.
        WriteDefinition(1, "edited");
        var ex = await Assert.ThrowsAsync<DefinitionValidationException>(() => JailwfEngine.StartAsync(Options));
        Assert.Contains("version 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_engine_on_the_same_database_is_refused_naming_the_holder()
    {
        WriteDefinition(1, "verify");
        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            var ex = await Assert.ThrowsAsync<EngineLockedException>(() => JailwfEngine.StartAsync(Options));
            Assert.Contains($"pid {Environment.ProcessId}", ex.Message, StringComparison.Ordinal);
        }

        // Readers see the live holder without touching the lock; none once it stopped.
        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            Assert.StartsWith($"pid {Environment.ProcessId}, started ", EngineLock.LiveHolder(Options.DatabasePath), StringComparison.Ordinal);
        }

        Assert.Null(EngineLock.LiveHolder(Options.DatabasePath));

        // A holder file left by a killed engine names a pid that is gone (or reused later): no engine.
        File.WriteAllText(Options.DatabasePath + ".lock.holder", $"pid {int.MaxValue - 1}, started {DateTimeOffset.UtcNow:O}");
        Assert.Null(EngineLock.LiveHolder(Options.DatabasePath));
        File.WriteAllText(Options.DatabasePath + ".lock.holder", $"pid {Environment.ProcessId}, started {DateTimeOffset.UtcNow.AddDays(-1):O}");
        Assert.Null(EngineLock.LiveHolder(Options.DatabasePath));
    }

    [Fact]
    public async Task A_migration_lock_left_by_a_killed_engine_does_not_hang_the_next_start()
    {
        WriteDefinition(1, "verify");
        await using (await JailwfEngine.StartAsync(Options))
        {
        }

        // What EF Core's migrator leaves when its process is killed while it holds the lock.
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Options.DatabasePath}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE IF NOT EXISTS \"__EFMigrationsLock\" (\"Id\" INTEGER NOT NULL PRIMARY KEY, \"Timestamp\" TEXT NOT NULL); INSERT INTO \"__EFMigrationsLock\" VALUES (1, '2026-11-30 00:00:00');";
            await command.ExecuteNonQueryAsync();
        }

        var start = JailwfEngine.StartAsync(Options);
        var finished = await Task.WhenAny(start, Task.Delay(TimeSpan.FromMinutes(1)));
        Assert.Same(start, finished);
        await using (await start)
        {
        }

        var (queries, owner) = InstanceQueries.Open(Options.DatabasePath);
        await using (owner)
        {
            Assert.Empty(await queries.ListAsync());
        }
    }

    [Fact]
    public async Task A_second_instance_for_the_same_jail_is_refused_while_the_first_is_not_finished()
    {
        WriteDefinition(1, "verify");
        await using var engine = await JailwfEngine.StartAsync(Options);
        var first = await engine.StartInstanceAsync("pinning", LocalPlan(), "ServerA");
        var ex = await Assert.ThrowsAsync<InstanceConflictException>(() => engine.StartInstanceAsync("pinning", LocalPlan(), "ServerA"));
        Assert.Equal(first, ex.InstanceId);
        Assert.Contains($"jailwf resume {first}", ex.Message, StringComparison.Ordinal);

        // Another jail on the same host is fine.
        _ = await engine.StartInstanceAsync("pinning", LocalPlan("serverb"), "ServerA");
    }

    [Fact]
    public async Task Unfinished_instances_can_be_ended_without_running_them_and_then_no_longer_block_their_jail()
    {
        WriteDefinition(1, "verify");
        string first;
        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            first = await engine.StartInstanceAsync("pinning", LocalPlan(), "ServerA");
        }

        var ended = await JailwfEngine.EndUnfinishedAsync(Options, v => v.JailsDir == $"{_dir}/jails", "test: the lab was rebuilt");
        Assert.Equal([first], ended);
        Assert.Empty(await JailwfEngine.EndUnfinishedAsync(Options, _ => true, "nothing left"));

        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            Assert.Equal(WorkflowStatus.Terminated, (await engine.Queries.GetAsync(first))!.Status);
            var journal = await engine.Queries.JournalAsync(first, 0, 1000);
            Assert.Contains(journal, e => e.Kind == JailWorkflows.Engine.Store.JournalEntryKind.OperatorAction && e.Message.Contains("the lab was rebuilt", StringComparison.Ordinal));
            _ = await engine.StartInstanceAsync("pinning", LocalPlan(), "ServerA"); // the jail is free again
        }
    }

    [Fact]
    public async Task A_failing_step_suspends_the_instance_with_its_error_in_the_journal()
    {
        WriteDefinition(1, "verify");
        await using var engine = await JailwfEngine.StartAsync(Options);
        var id = await engine.StartInstanceAsync("pinning", LocalPlan(), "ServerA");
        var view = await Wait.UntilAsync(
            async () => await engine.Queries.ViewAsync(id) is { Status: WorkflowStatus.Suspended } v ? v : null,
            TimeSpan.FromSeconds(30),
            "the instance to be suspended");
        Assert.Equal(StepState.Failed, view.Steps[0].State);
        Assert.Contains("jail servera is not running", view.LastError, StringComparison.Ordinal);

        // resume decides the incident of the failed step; nothing else holds the instance, so it is runnable again.
        var resumed = await engine.ResumeAsync(id);
        Assert.False(resumed.WasRunnable);
        Assert.Equal("verify", resumed.Step);
        Assert.Empty(resumed.SuspendedBy);
        Assert.True(resumed.Runnable);
    }

    private void WriteDefinition(int version, string stepId) =>
        File.WriteAllText(Path.Combine(Workflows, $"pinning-{version}.json"), $$"""
            { "id": "pinning", "version": {{version}}, "steps": [ { "id": "{{stepId}}", "activity": "VerifyJail", "inputs": { "timeoutSeconds": 1 } } ] }
            """);

    private Plan LocalPlan(string jailName = "servera") => PlanLoader.Parse(LocalPlans.Yaml(_dir, jailName));
}
