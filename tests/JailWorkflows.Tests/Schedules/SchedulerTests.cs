using JailWorkflows.Engine;
using JailWorkflows.Plans;
using JailWorkflows.Server;
using JailWorkflows.Server.Schedules;
using JailWorkflows.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Quartz;
using OverlapPolicy = JailWorkflows.Server.Schedules.OverlapPolicy;

namespace JailWorkflows.Tests.Schedules;

/// <summary>
/// Quartz.NET with its ADO job store on a real SQLite file and a real engine, on a fake clock (Quartz reads every time from
/// the TimeProvider it is given): the 02:00 fire, misfire policies after the process was down, restarts, overlap.
/// The scheduled definition is a jail host definition whose one step waits for a maintenance window that is closed, so a
/// started run stays unfinished (and overlaps the next fire).
/// </summary>
public sealed class SchedulerTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    // 01:55 in Berlin on 2026-12-01 (+01:00).
    private static readonly DateTimeOffset FiveToTwo = new(2026, 12, 1, 1, 55, 0, TimeSpan.FromHours(1));

    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-sched-").FullName;
    private readonly FakeTimeProvider _clock = new(FiveToTwo);
    private readonly string _name = "jailwf-test-" + Guid.NewGuid().ToString("N")[..8];
    private JailwfEngine _engine = null!;

    private string Workflows => Directory.CreateDirectory(Path.Combine(_dir, "workflows")).FullName;

    private string Database => Path.Combine(_dir, "jailwf.db");

    public async Task InitializeAsync()
    {
        // A window that is closed on the real clock for the next hour: the run waits in it.
        var now = DateTime.UtcNow;
        var start = now.AddHours(2);
        File.WriteAllText(Path.Combine(Workflows, "night.json"), $$"""
            { "id": "night", "version": 1, "scope": "jailHost", "steps": [
              { "id": "window", "activity": "WaitForWindow", "inputs": { "start": "{{start:HH:mm}}", "end": "{{start.AddHours(1):HH:mm}}", "timeZone": "UTC" } } ] }
            """);
        _engine = await JailwfEngine.StartAsync(new EngineOptions { DatabasePath = Database, WorkflowsDirectory = Workflows, StorePollInterval = TimeSpan.FromMilliseconds(200), JobPollInterval = TimeSpan.FromMilliseconds(200) });
    }

    public async Task DisposeAsync()
    {
        await _engine.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_schedule_fires_at_0200_in_its_time_zone_and_starts_one_run_journaled_with_its_fire_time()
    {
        await using var scheduler = await StartSchedulerAsync();
        var view = await scheduler.Book.AddAsync(Request(MisfirePolicy.FireOnce, OverlapPolicy.Skip), Known);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 2, 0, 0, TimeSpan.FromHours(1)), view.NextFire);
        Assert.Empty(await _engine.Queries.ListAsync());

        _clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1)); // 02:00:01
        var started = await WaitForEventAsync(view.Id, ScheduleEventKind.Started);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 1, 0, 0, TimeSpan.Zero), started.FireTime);
        var instance = Assert.Single(started.Instances);
        Assert.Equal(instance, Assert.Single(await _engine.Queries.ListAsync()).Id);
        Assert.Contains(await _engine.Queries.JournalAsync(instance, 0, 100), e => e.Message.Contains($"started by schedule {view.Id} for its fire at 2026-12-01 02:00:00 +01:00", StringComparison.Ordinal));
        Assert.Equal(new DateTimeOffset(2026, 12, 2, 2, 0, 0, TimeSpan.FromHours(1)), (await scheduler.Book.GetAsync(view.Id)).NextFire);
    }

    [Theory]
    [InlineData(MisfirePolicy.FireOnce)]
    [InlineData(MisfirePolicy.Skip)]
    public async Task The_process_down_from_0155_to_0230_gives_exactly_one_run_under_fire_once_and_none_under_skip(MisfirePolicy policy)
    {
        string id;
        await using (var before = await StartSchedulerAsync())
        {
            id = (await before.Book.AddAsync(Request(policy, OverlapPolicy.Skip), Known)).Id;
        }

        _clock.Advance(TimeSpan.FromMinutes(35)); // 02:30: the 02:00 fire was missed
        await using var after = await StartSchedulerAsync();
        var misfired = await WaitForEventAsync(id, ScheduleEventKind.Misfired);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 1, 0, 0, TimeSpan.Zero), misfired.FireTime);
        if (policy == MisfirePolicy.FireOnce)
        {
            var started = await WaitForEventAsync(id, ScheduleEventKind.Started);
            Assert.Single(started.Instances);
        }

        // Either way the next fire is tomorrow's 02:00: no second run today.
        var view = await after.Book.GetAsync(id);
        Assert.Equal(new DateTimeOffset(2026, 12, 2, 2, 0, 0, TimeSpan.FromHours(1)), view.NextFire);
        var events = await after.Book.Journal.ReadAsync(id);
        Assert.Equal(policy == MisfirePolicy.FireOnce ? 1 : 0, events.Count(e => e.Kind == ScheduleEventKind.Started));
        Assert.Equal(policy == MisfirePolicy.FireOnce ? 1 : 0, (await _engine.Queries.ListAsync()).Count);
        Assert.Contains(policy == MisfirePolicy.FireOnce ? "misfire policy fire-once: one run starts now" : "misfire policy skip: no run; next at 2026-12-02 02:00:00 +01:00", misfired.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_restart_before_the_fire_time_does_not_move_the_next_fire_and_a_second_fire_overlapping_an_unfinished_run_is_skipped_and_journaled()
    {
        string id;
        await using (var first = await StartSchedulerAsync())
        {
            id = (await first.Book.AddAsync(Request(MisfirePolicy.FireOnce, OverlapPolicy.Skip) with { Cron = "0 0 * * * ?" }, Known)).Id;
        }

        _clock.Advance(TimeSpan.FromMinutes(2)); // 01:57, restarted before the fire
        await using var second = await StartSchedulerAsync();
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 2, 0, 0, TimeSpan.FromHours(1)), (await second.Book.GetAsync(id)).NextFire);

        _clock.Advance(TimeSpan.FromMinutes(3) + TimeSpan.FromSeconds(1)); // 02:00:01
        var started = await WaitForEventAsync(id, ScheduleEventKind.Started);
        var run = Assert.Single(started.Instances);

        _clock.Advance(TimeSpan.FromHours(1)); // 03:00:01: the 02:00 run still waits for its window
        var skipped = await WaitForEventAsync(id, ScheduleEventKind.OverlapSkipped);
        Assert.Equal([run], skipped.Instances);
        Assert.Contains("overlap policy skip", skipped.Message, StringComparison.Ordinal);
        Assert.Single(await _engine.Queries.ListAsync());
        var journal = await _engine.Queries.JournalAsync(run, 0, 100);
        Assert.True(journal.Any(e => e.Message.Contains($"schedule {id}: its fire at 2026-12-01 03:00:00 +01:00 Europe/Berlin was skipped", StringComparison.Ordinal)), string.Join("\n", journal.Select(e => e.Message)));
    }

    [Fact]
    public async Task Under_overlap_queue_a_fire_overlapping_an_unfinished_run_starts_once_that_run_has_ended()
    {
        await using var scheduler = await StartSchedulerAsync();
        var id = (await scheduler.Book.AddAsync(Request(MisfirePolicy.FireOnce, OverlapPolicy.Queue) with { Cron = "0 0 * * * ?" }, Known)).Id;
        _clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1)); // 02:00:01
        var first = Assert.Single((await WaitForEventAsync(id, ScheduleEventKind.Started)).Instances);

        _clock.Advance(TimeSpan.FromHours(1)); // 03:00:01: queued behind the unfinished 02:00 run
        var queued = await WaitForEventAsync(id, ScheduleEventKind.Queued);
        Assert.Equal([first], queued.Instances);
        Assert.True(await scheduler.Scheduler.Exists(new TriggerKey(id, ScheduleBook.QueueGroup)));

        await _engine.AbortAsync(first, "test: the 02:00 run ends");
        _clock.Advance(TimeSpan.FromMinutes(3)); // past the queue's recheck (late: it looks at once)
        var second = await Wait.UntilAsync(async () => (await scheduler.Book.Journal.ReadAsync(id)).LastOrDefault(e => e.Kind == ScheduleEventKind.Started && !e.Instances.Contains(first)), Deadline, "the queued run");
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 2, 0, 0, TimeSpan.Zero), second.FireTime); // the 03:00 fire (+01:00)
        Assert.Contains("(queued)", second.Message, StringComparison.Ordinal);
        await Wait.UntilAsync(async () => !await scheduler.Scheduler.Exists(new TriggerKey(id, ScheduleBook.QueueGroup)), Deadline, "the queue trigger's removal");
        Assert.Equal(2, (await _engine.Queries.ListAsync()).Count);
    }

    [Fact]
    public async Task A_fire_interrupted_inside_its_job_is_recovered_by_quartz_with_its_original_fire_time_and_starts_its_run_once()
    {
        string id;
        await using (var before = await StartSchedulerAsync())
        {
            id = (await before.Book.AddAsync(Request(MisfirePolicy.Skip, OverlapPolicy.Skip), Known)).Id;
        }

        // What a process killed inside the job of the 02:00 fire (01:00Z) leaves in Quartz's tables: the trigger moved on to
        // tomorrow, and the fire's row, executing, for a job that requests recovery. Quartz recovers it at the next start.
        var fire = new DateTimeOffset(2026, 12, 1, 1, 0, 0, TimeSpan.Zero);
        await InterruptedFireAsync(id, fire);
        _clock.Advance(TimeSpan.FromMinutes(35)); // 02:30, restart: the skip misfire policy alone would start nothing
        await using (var after = await StartSchedulerAsync())
        {
            var started = await WaitForEventAsync(id, ScheduleEventKind.Started);
            Assert.Equal(fire, started.FireTime);
            var instance = Assert.Single(started.Instances);
            Assert.Equal(instance, Assert.Single(await _engine.Queries.ListAsync()).Id);
            Assert.Contains(await _engine.Queries.JournalAsync(instance, 0, 100), e => e.Message.Contains($"started by schedule {id} for its fire at 2026-12-01 02:00:00 +01:00", StringComparison.Ordinal));
        }

        // Killed again after the run started, before Quartz deleted the fire's row: recovered, the fire starts nothing again.
        await InterruptedFireAsync(id, fire);
        _clock.Advance(TimeSpan.FromMinutes(5));
        await using (var again = await StartSchedulerAsync())
        {
            var already = await WaitForEventAsync(id, ScheduleEventKind.AlreadyStarted);
            Assert.Equal(fire, already.FireTime);
            Assert.Single(await _engine.Queries.ListAsync());
        }
    }

    [Fact]
    public async Task Bad_input_schedules_nothing()
    {
        await using var scheduler = await StartSchedulerAsync();
        await Assert.ThrowsAnyAsync<ArgumentException>(() => scheduler.Book.AddAsync(Request(MisfirePolicy.FireOnce, OverlapPolicy.Skip) with { Cron = "0 0 2 * *" }, Known));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => scheduler.Book.AddAsync(Request(MisfirePolicy.FireOnce, OverlapPolicy.Skip) with { TimeZone = "Europe/Atlantis" }, Known));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => scheduler.Book.AddAsync(Request(MisfirePolicy.FireOnce, OverlapPolicy.Skip) with { Definition = "no-such" }, Known));
        await Assert.ThrowsAsync<PlanValidationException>(() => scheduler.Book.AddAsync(Request(MisfirePolicy.FireOnce, OverlapPolicy.Skip) with { Plan = "jailHost: {}\n" }, Known));
        Assert.Empty(await scheduler.Book.ListAsync());
    }

    private bool Known(string definition) => _engine.Definitions.Keys.Any(k => k.Id == definition);

    private ScheduleRequest Request(MisfirePolicy misfire, OverlapPolicy overlap) =>
        new("night", LocalPlans.Yaml(_dir), null, "0 0 2 * * ?", "Europe/Berlin", misfire, overlap);

    private async Task<ScheduleEvent> WaitForEventAsync(string id, ScheduleEventKind kind)
    {
        var journal = new ScheduleJournal(ServeOptions.SchedulesPathOf(Database), _clock);
        return await Wait.UntilAsync(async () => (await journal.ReadAsync(id)).FirstOrDefault(e => e.Kind == kind), Deadline, $"a {kind} entry of schedule {id}");
    }

    /// <summary>Writes into Quartz's tables what a process killed while the job of <paramref name="fire"/> ran leaves.</summary>
    private async Task InterruptedFireAsync(string id, DateTimeOffset fire)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(ScheduleJournal.ConnectionString(ServeOptions.SchedulesPathOf(Database)));
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE QRTZ_TRIGGERS SET PREV_FIRE_TIME = $fire, NEXT_FIRE_TIME = $next, TRIGGER_STATE = 'BLOCKED'
              WHERE SCHED_NAME = $sched AND TRIGGER_NAME = $id AND TRIGGER_GROUP = $group;
            INSERT INTO QRTZ_FIRED_TRIGGERS (SCHED_NAME, ENTRY_ID, TRIGGER_NAME, TRIGGER_GROUP, INSTANCE_NAME, FIRED_TIME, SCHED_TIME, PRIORITY, STATE, JOB_NAME, JOB_GROUP, IS_NONCONCURRENT, REQUESTS_RECOVERY)
              VALUES ($sched, $entry, $id, $group, 'NON_CLUSTERED', $fired, $fire, 5, 'EXECUTING', $id, $group, 1, 1);
            """;
        command.Parameters.AddWithValue("$sched", _name);
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$group", ScheduleBook.Group);
        command.Parameters.AddWithValue("$entry", "NON_CLUSTERED" + Guid.NewGuid().ToString("N"));
        command.Parameters.AddWithValue("$fire", fire.UtcTicks);
        command.Parameters.AddWithValue("$fired", fire.AddSeconds(1).UtcTicks);
        command.Parameters.AddWithValue("$next", fire.AddDays(1).UtcTicks);
        Assert.Equal(2, await command.ExecuteNonQueryAsync());
    }

    private async Task<RunningScheduler> StartSchedulerAsync()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(_engine);
        services.AddJailwfSchedules(
            new ServeOptions { Engine = new EngineOptions { DatabasePath = Database, WorkflowsDirectory = Workflows }, SchedulerName = _name, SchedulerIdleWait = TimeSpan.FromSeconds(1), MisfireThreshold = TimeSpan.FromMinutes(1), QueueRecheckInterval = TimeSpan.FromMinutes(1) },
            _clock);
        var provider = services.BuildServiceProvider();
        var scheduler = await provider.GetRequiredService<ISchedulerFactory>().GetScheduler();
        await scheduler.Start();
        return new RunningScheduler(provider, scheduler, provider.GetRequiredService<ScheduleBook>());
    }

    private sealed record RunningScheduler(ServiceProvider Provider, IScheduler Scheduler, ScheduleBook Book) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Scheduler.Shutdown(true);
            await Provider.DisposeAsync();
        }
    }
}
