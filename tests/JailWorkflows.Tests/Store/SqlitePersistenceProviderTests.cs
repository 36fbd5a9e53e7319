using JailWorkflows.Engine.Store;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using WorkflowCore.Models;

namespace JailWorkflows.Tests.Store;

public sealed record PartitionCheckpoint(string MountPoint, int Attempt, DateTime StartedAt, IReadOnlyList<string> Done);

public enum TransferPhase
{
    Dumping,
    Restoring,
}

public sealed class ServerData
{
    public string Host { get; set; } = "";

    public List<string> Partitions { get; set; } = [];

    public TransferPhase Phase { get; set; }

    public DateTime? LastContact { get; set; }
}

public sealed class SqlitePersistenceProviderTests : IDisposable
{
    private static readonly DateTime T0 = new(2025, 3, 14, 2, 0, 0, DateTimeKind.Utc);
    private readonly TempStore _store = new();

    public void Dispose() => _store.Dispose();

    private static WorkflowInstance NewInstance(string definition = "consolidate", WorkflowStatus status = WorkflowStatus.Runnable, long? nextExecution = null) => new()
    {
        WorkflowDefinitionId = definition,
        Version = 3,
        Description = "serverA into jail a",
        Reference = "plan.yaml#serverA",
        Status = status,
        NextExecution = nextExecution,
        CreateTime = T0,
        Data = new ServerData { Host = "serverA", Partitions = ["/", "/usr", "/var"], Phase = TransferPhase.Restoring, LastContact = T0.AddMinutes(5) },
    };

    [Fact]
    public async Task Instance_with_pointers_round_trips_every_field_and_type()
    {
        var p = _store.Provider;
        var instance = NewInstance();
        instance.CompleteTime = new DateTime(2025, 3, 14, 4, 0, 0, DateTimeKind.Local);
        instance.ExecutionPointers.Add(new ExecutionPointer
        {
            Id = "p1",
            StepId = 0,
            StepName = "Transfer",
            Active = true,
            Status = PointerStatus.Sleeping,
            SleepUntil = T0.AddMinutes(1),
            StartTime = T0,
            PersistenceData = new IteratorPersistenceData { Index = 2, ChildrenActive = true },
            EventName = "approval",
            EventKey = "serverA",
            EventPublished = true,
            EventData = new PartitionCheckpoint("/usr", 1, T0, ["/"]),
            ExtensionAttributes = new() { ["attempt"] = 2, ["host"] = "jailhost", ["schedule"] = new SchedulePersistenceData { Elapsed = true } },
            RetryCount = 4,
            Children = ["c1", "c2"],
            ContextItem = "/usr",
            PredecessorId = "p0",
            Outcome = 42L,
            Scope = ["outer", "inner"],
        });
        instance.ExecutionPointers.Add(new ExecutionPointer
        {
            Id = "p2",
            StepId = 1,
            Status = PointerStatus.Complete,
            StartTime = T0,
            EndTime = T0.AddSeconds(30),
            PersistenceData = new ControlPersistenceData { ChildrenActive = false },
            ContextItem = new PartitionCheckpoint("/var", 0, T0, []),
            Outcome = true,
        });
        instance.ExecutionPointers.Add(new ExecutionPointer
        {
            Id = "p3",
            StepId = 2,
            Status = PointerStatus.Pending,
            PersistenceData = new PartitionCheckpoint("/", 3, T0.AddHours(1), ["/", "/usr"]),
        });

        var id = await p.CreateNewWorkflow(instance);
        Assert.Equal(id, instance.Id);
        Assert.True(Guid.TryParse(id, out _));

        var read = await p.GetWorkflowInstance(id);
        Assert.NotNull(read);
        Assert.Equal("consolidate", read.WorkflowDefinitionId);
        Assert.Equal(3, read.Version);
        Assert.Equal("serverA into jail a", read.Description);
        Assert.Equal("plan.yaml#serverA", read.Reference);
        Assert.Equal(WorkflowStatus.Runnable, read.Status);
        Assert.Null(read.NextExecution);
        AssertUtc(T0, read.CreateTime);
        AssertUtc(instance.CompleteTime.Value.ToUniversalTime(), read.CompleteTime!.Value);
        var data = Assert.IsType<ServerData>(read.Data);
        Assert.Equal("serverA", data.Host);
        Assert.Equal(["/", "/usr", "/var"], data.Partitions);
        Assert.Equal(TransferPhase.Restoring, data.Phase);
        AssertUtc(T0.AddMinutes(5), data.LastContact!.Value);

        Assert.Equal(["p1", "p2", "p3"], read.ExecutionPointers.Select(x => x.Id));
        var p1 = read.ExecutionPointers.FindById("p1");
        Assert.Equal(0, p1.StepId);
        Assert.Equal("Transfer", p1.StepName);
        Assert.True(p1.Active);
        Assert.Equal(PointerStatus.Sleeping, p1.Status);
        AssertUtc(T0.AddMinutes(1), p1.SleepUntil!.Value);
        AssertUtc(T0, p1.StartTime!.Value);
        Assert.Null(p1.EndTime);
        var iterator = Assert.IsType<IteratorPersistenceData>(p1.PersistenceData);
        Assert.Equal(2, iterator.Index);
        Assert.True(iterator.ChildrenActive);
        Assert.Equal("approval", p1.EventName);
        Assert.Equal("serverA", p1.EventKey);
        Assert.True(p1.EventPublished);
        var eventData = Assert.IsType<PartitionCheckpoint>(p1.EventData);
        Assert.Equal("/usr", eventData.MountPoint);
        Assert.Equal(["/"], eventData.Done);
        AssertUtc(T0, eventData.StartedAt);
        Assert.Equal(3, p1.ExtensionAttributes.Count);
        Assert.Equal(2, Assert.IsType<int>(p1.ExtensionAttributes["attempt"]));
        Assert.Equal("jailhost", Assert.IsType<string>(p1.ExtensionAttributes["host"]));
        Assert.True(Assert.IsType<SchedulePersistenceData>(p1.ExtensionAttributes["schedule"]).Elapsed);
        Assert.Equal(4, p1.RetryCount);
        Assert.Equal(["c1", "c2"], p1.Children);
        Assert.Equal("/usr", Assert.IsType<string>(p1.ContextItem));
        Assert.Equal("p0", p1.PredecessorId);
        Assert.Equal(42L, Assert.IsType<long>(p1.Outcome));
        Assert.Equal(["outer", "inner"], p1.Scope);
        Assert.Same(p1, Assert.Single(read.ExecutionPointers.FindByScope("inner")));

        var p2 = read.ExecutionPointers.FindById("p2");
        Assert.False(Assert.IsType<ControlPersistenceData>(p2.PersistenceData).ChildrenActive);
        Assert.Equal("/var", Assert.IsType<PartitionCheckpoint>(p2.ContextItem).MountPoint);
        Assert.True(Assert.IsType<bool>(p2.Outcome));
        AssertUtc(T0.AddSeconds(30), p2.EndTime!.Value);
        Assert.Empty(p2.Scope);
        Assert.Empty(p2.Children);
        Assert.Empty(p2.ExtensionAttributes);
        Assert.Null(p2.EventData);

        var p3 = read.ExecutionPointers.FindById("p3");
        var checkpoint = Assert.IsType<PartitionCheckpoint>(p3.PersistenceData);
        Assert.Equal(new PartitionCheckpoint("/", 3, T0.AddHours(1), checkpoint.Done), checkpoint);
        Assert.Equal(["/", "/usr"], checkpoint.Done);
        Assert.Null(p3.StartTime);
        Assert.Null(p3.Outcome);
        Assert.Null(p3.ContextItem);
    }

    [Fact]
    public async Task PersistWorkflow_updates_adds_and_removes_pointers_and_stores_subscriptions_atomically()
    {
        var p = _store.Provider;
        var instance = NewInstance();
        instance.ExecutionPointers.Add(new ExecutionPointer { Id = "a", StepId = 0, Status = PointerStatus.Running, PersistenceData = new SchedulePersistenceData() });
        instance.ExecutionPointers.Add(new ExecutionPointer { Id = "b", StepId = 1, Status = PointerStatus.Pending });
        var id = await p.CreateNewWorkflow(instance);

        var loaded = (await p.GetWorkflowInstance(id))!;
        var a = loaded.ExecutionPointers.FindById("a");
        a.PersistenceData = new IteratorPersistenceData { Index = 7 };
        a.Status = PointerStatus.Complete;
        a.EndTime = T0.AddMinutes(3);
        a.Outcome = "done";
        loaded.ExecutionPointers.Remove(loaded.ExecutionPointers.FindById("b"));
        loaded.ExecutionPointers.Add(new ExecutionPointer { Id = "c", StepId = 2, Status = PointerStatus.WaitingForEvent, EventName = "approval", EventKey = "serverA", Scope = ["a"] });
        loaded.Status = WorkflowStatus.Suspended;
        loaded.NextExecution = 12345;
        ((ServerData)loaded.Data).Phase = TransferPhase.Dumping;
        var subscription = new EventSubscription
        {
            WorkflowId = id, StepId = 2, ExecutionPointerId = "c", EventName = "approval", EventKey = "serverA",
            SubscribeAsOf = T0, SubscriptionData = new PartitionCheckpoint("/var", 1, T0, []),
        };
        await p.PersistWorkflow(loaded, [subscription]);

        var read = (await p.GetWorkflowInstance(id))!;
        Assert.Equal(["a", "c"], read.ExecutionPointers.Select(x => x.Id));
        var readA = read.ExecutionPointers.FindById("a");
        Assert.Equal(7, Assert.IsType<IteratorPersistenceData>(readA.PersistenceData).Index);
        Assert.Equal(PointerStatus.Complete, readA.Status);
        AssertUtc(T0.AddMinutes(3), readA.EndTime!.Value);
        Assert.Equal("done", readA.Outcome);
        Assert.Equal(["a"], read.ExecutionPointers.FindById("c").Scope);
        Assert.Equal(WorkflowStatus.Suspended, read.Status);
        Assert.Equal(12345, read.NextExecution);
        Assert.Equal(TransferPhase.Dumping, Assert.IsType<ServerData>(read.Data).Phase);

        Assert.True(Guid.TryParse(subscription.Id, out _));
        var stored = (await p.GetSubscription(subscription.Id))!;
        Assert.Equal("c", stored.ExecutionPointerId);
        Assert.Equal("/var", Assert.IsType<PartitionCheckpoint>(stored.SubscriptionData).MountPoint);

        // Persisting without subscriptions (WorkflowCore passes null when a step threw) works too.
        read.Description = "changed";
        await p.PersistWorkflow(read, null);
        Assert.Equal("changed", (await p.GetWorkflowInstance(id))!.Description);
    }

    [Fact]
    public async Task PersistWorkflow_of_an_unknown_instance_throws_and_an_unknown_id_reads_as_null()
    {
        var instance = NewInstance();
        instance.Id = Guid.NewGuid().ToString();
        await Assert.ThrowsAsync<InvalidOperationException>(() => _store.Provider.PersistWorkflow(instance));
        Assert.Null(await _store.Provider.GetWorkflowInstance(Guid.NewGuid().ToString()));
    }

    [Fact]
    public async Task GetWorkflowInstances_by_ids_and_by_filter()
    {
        var p = _store.Provider;
        var first = NewInstance("consolidate");
        var second = NewInstance("buildworld", WorkflowStatus.Complete);
        second.CreateTime = T0.AddDays(1);
        var third = NewInstance("consolidate", WorkflowStatus.Complete);
        third.CreateTime = T0.AddDays(2);
        foreach (var i in new[] { first, second, third })
        {
            i.ExecutionPointers.Add(new ExecutionPointer { Id = Guid.NewGuid().ToString(), StepId = 0 });
            await p.CreateNewWorkflow(i);
        }

        var byIds = (await p.GetWorkflowInstances([first.Id, third.Id, Guid.NewGuid().ToString()])).ToList();
        Assert.Equal(new[] { first.Id, third.Id }.Order(), byIds.Select(x => x.Id).Order());
        Assert.All(byIds, i => Assert.Single(i.ExecutionPointers));
        Assert.Empty(await p.GetWorkflowInstances(null));

#pragma warning disable CS0618 // the obsolete overload is part of the interface and implemented too
        Assert.Equal([second.Id, third.Id], (await p.GetWorkflowInstances(WorkflowStatus.Complete, null, null, null, 0, 10)).Select(x => x.Id));
        Assert.Equal([third.Id], (await p.GetWorkflowInstances(WorkflowStatus.Complete, "consolidate", null, null, 0, 10)).Select(x => x.Id));
        Assert.Equal([second.Id], (await p.GetWorkflowInstances(null, null, T0.AddHours(1), T0.AddDays(1), 0, 10)).Select(x => x.Id));
        Assert.Equal([second.Id], (await p.GetWorkflowInstances(null, null, null, null, 1, 1)).Select(x => x.Id));
#pragma warning restore CS0618
    }

    [Fact]
    public async Task GetRunnableInstances_honours_status_and_NextExecution()
    {
        var p = _store.Provider;
        var now = T0.AddHours(1);
        async Task<string> Create(WorkflowStatus status, long? next) => await p.CreateNewWorkflow(NewInstance(status: status, nextExecution: next));

        var due = await Create(WorkflowStatus.Runnable, now.AddSeconds(-1).Ticks);
        var dueExactly = await Create(WorkflowStatus.Runnable, now.Ticks);
        var dueAtZero = await Create(WorkflowStatus.Runnable, 0);
        await Create(WorkflowStatus.Runnable, now.AddSeconds(1).Ticks);
        await Create(WorkflowStatus.Runnable, null);
        await Create(WorkflowStatus.Suspended, now.AddSeconds(-1).Ticks);
        await Create(WorkflowStatus.Complete, now.AddSeconds(-1).Ticks);
        await Create(WorkflowStatus.Terminated, 0);

        var runnable = await p.GetRunnableInstances(now);
        Assert.Equal(new[] { due, dueExactly, dueAtZero }.Order(), runnable.Order());

        // WorkflowCore passes local time; it is converted to UTC.
        Assert.Equal(runnable.Order(), (await p.GetRunnableInstances(now.ToLocalTime())).Order());
        Assert.Equal([dueAtZero], await p.GetRunnableInstances(T0.AddYears(-10)));
    }

    [Fact]
    public async Task Subscriptions_round_trip_claim_release_and_terminate()
    {
        var p = _store.Provider;
        var older = new EventSubscription
        {
            WorkflowId = "wf1", StepId = 4, ExecutionPointerId = "ep1", EventName = Event.EventTypeActivity, EventKey = "merge-etc",
            SubscribeAsOf = T0, SubscriptionData = new SchedulePersistenceData { Elapsed = true },
        };
        var newer = new EventSubscription
        {
            WorkflowId = "wf2", StepId = 4, ExecutionPointerId = "ep2", EventName = Event.EventTypeActivity, EventKey = "merge-etc",
            SubscribeAsOf = T0.AddMinutes(1),
        };
        var other = new EventSubscription { WorkflowId = "wf3", EventName = "approval", EventKey = "serverB", SubscribeAsOf = T0 };
        var olderId = await p.CreateEventSubscription(older);
        var newerId = await p.CreateEventSubscription(newer);
        await p.CreateEventSubscription(other);
        Assert.Equal(olderId, older.Id);

        var read = (await p.GetSubscription(olderId))!;
        Assert.Equal("wf1", read.WorkflowId);
        Assert.Equal(4, read.StepId);
        Assert.Equal("ep1", read.ExecutionPointerId);
        Assert.Equal(Event.EventTypeActivity, read.EventName);
        Assert.Equal("merge-etc", read.EventKey);
        AssertUtc(T0, read.SubscribeAsOf);
        Assert.True(Assert.IsType<SchedulePersistenceData>(read.SubscriptionData).Elapsed);
        Assert.Null(read.ExternalToken);
        Assert.Null(await p.GetSubscription(Guid.NewGuid().ToString()));

        Assert.Empty(await p.GetSubscriptions(Event.EventTypeActivity, "merge-etc", T0.AddSeconds(-1)));
        Assert.Equal([olderId], (await p.GetSubscriptions(Event.EventTypeActivity, "merge-etc", T0)).Select(s => s.Id));
        Assert.Equal([olderId, newerId], (await p.GetSubscriptions(Event.EventTypeActivity, "merge-etc", T0.AddHours(1))).Select(s => s.Id));

        Assert.Equal(olderId, (await p.GetFirstOpenSubscription(Event.EventTypeActivity, "merge-etc", T0.AddHours(1)))!.Id);

        var expiry = T0.AddMinutes(10);
        Assert.True(await p.SetSubscriptionToken(olderId, "token-1", "worker-1", expiry));
        Assert.False(await p.SetSubscriptionToken(olderId, "token-2", "worker-2", expiry));
        Assert.False(await p.SetSubscriptionToken(Guid.NewGuid().ToString(), "token-3", "worker-3", expiry));
        var claimed = (await p.GetSubscription(olderId))!;
        Assert.Equal("token-1", claimed.ExternalToken);
        Assert.Equal("worker-1", claimed.ExternalWorkerId);
        AssertUtc(expiry, claimed.ExternalTokenExpiry!.Value);

        // A claimed subscription is not open any more: the next one is handed out.
        Assert.Equal(newerId, (await p.GetFirstOpenSubscription(Event.EventTypeActivity, "merge-etc", T0.AddHours(1)))!.Id);
        Assert.Null(await p.GetFirstOpenSubscription(Event.EventTypeActivity, "merge-etc", T0));

        await Assert.ThrowsAsync<InvalidOperationException>(() => p.ClearSubscriptionToken(olderId, "wrong-token"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => p.ClearSubscriptionToken(Guid.NewGuid().ToString(), "token-1"));
        Assert.Equal("token-1", (await p.GetSubscription(olderId))!.ExternalToken);
        await p.ClearSubscriptionToken(olderId, "token-1");
        var released = (await p.GetSubscription(olderId))!;
        Assert.Null(released.ExternalToken);
        Assert.Null(released.ExternalWorkerId);
        Assert.Null(released.ExternalTokenExpiry);
        Assert.Equal(olderId, (await p.GetFirstOpenSubscription(Event.EventTypeActivity, "merge-etc", T0.AddHours(1)))!.Id);

        // WorkflowCore's activity controller claims with an expiry of DateTime.MaxValue (UTC).
        var never = DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc);
        Assert.True(await p.SetSubscriptionToken(olderId, "token-4", "worker-4", never));
        AssertUtc(never, (await p.GetSubscription(olderId))!.ExternalTokenExpiry!.Value);
        await p.ClearSubscriptionToken(olderId, "token-4");

        await p.TerminateSubscription(olderId);
        Assert.Null(await p.GetSubscription(olderId));
        Assert.Equal([newerId], (await p.GetSubscriptions(Event.EventTypeActivity, "merge-etc", T0.AddHours(1))).Select(s => s.Id));
        await p.TerminateSubscription(olderId); // terminating twice is harmless
    }

    [Fact]
    public async Task Events_round_trip_and_processed_flags_drive_GetRunnableEvents()
    {
        var p = _store.Provider;
        var approval = new Event { EventName = "approval", EventKey = "serverA", EventTime = T0, EventData = new PartitionCheckpoint("/", 1, T0, ["/"]) };
        var later = new Event { EventName = "approval", EventKey = "serverA", EventTime = T0.AddHours(2), EventData = "go" };
        var otherKey = new Event { EventName = "approval", EventKey = "serverB", EventTime = T0, EventData = null };
        var processed = new Event { EventName = "approval", EventKey = "serverA", EventTime = T0.AddMinutes(-5), IsProcessed = true };
        var approvalId = await p.CreateEvent(approval);
        var laterId = await p.CreateEvent(later);
        var otherId = await p.CreateEvent(otherKey);
        var processedId = await p.CreateEvent(processed);
        Assert.Equal(approvalId, approval.Id);

        var read = (await p.GetEvent(approvalId))!;
        Assert.Equal("approval", read.EventName);
        Assert.Equal("serverA", read.EventKey);
        AssertUtc(T0, read.EventTime);
        Assert.False(read.IsProcessed);
        Assert.Equal(["/"], Assert.IsType<PartitionCheckpoint>(read.EventData).Done);
        Assert.Equal("go", (await p.GetEvent(laterId))!.EventData);
        Assert.Null((await p.GetEvent(otherId))!.EventData);
        Assert.True((await p.GetEvent(processedId))!.IsProcessed);
        Assert.Null(await p.GetEvent(Guid.NewGuid().ToString()));

        var asAt = T0.AddHours(1);
        Assert.Equal(new[] { approvalId, otherId }.Order(), (await p.GetRunnableEvents(asAt)).Order());

        await p.MarkEventProcessed(approvalId);
        Assert.True((await p.GetEvent(approvalId))!.IsProcessed);
        Assert.Equal([otherId], await p.GetRunnableEvents(asAt));

        await p.MarkEventUnprocessed(processedId);
        Assert.Equal(new[] { processedId, otherId }.Order(), (await p.GetRunnableEvents(asAt)).Order());
        await p.MarkEventProcessed(Guid.NewGuid().ToString()); // unknown ids are ignored

        // GetEvents: name and key, at or after asOf, processed or not.
        Assert.Equal([processedId, approvalId, laterId], await p.GetEvents("approval", "serverA", T0.AddHours(-1)));
        Assert.Equal([approvalId, laterId], await p.GetEvents("approval", "serverA", T0));
        Assert.Equal([laterId], await p.GetEvents("approval", "serverA", T0.AddSeconds(1)));
        Assert.Equal([otherId], await p.GetEvents("approval", "serverB", T0));
    }

    [Fact]
    public async Task Scheduled_commands_run_once_when_due_and_a_failed_one_stays()
    {
        var p = _store.Provider;
        Assert.False(p.SupportsScheduledCommands); // see the property: the poller's greylist is used instead
        await p.ScheduleCommand(new ScheduledCommand { CommandName = ScheduledCommand.ProcessWorkflow, Data = "wf1", ExecuteTime = T0.AddMinutes(10).Ticks });
        // The same command again, earlier: kept once, at the earlier time.
        await p.ScheduleCommand(new ScheduledCommand { CommandName = ScheduledCommand.ProcessWorkflow, Data = "wf1", ExecuteTime = T0.AddMinutes(5).Ticks });
        // And later: ignored (still once, still at the earlier time).
        await p.ScheduleCommand(new ScheduledCommand { CommandName = ScheduledCommand.ProcessWorkflow, Data = "wf1", ExecuteTime = T0.AddMinutes(20).Ticks });
        await p.ScheduleCommand(new ScheduledCommand { CommandName = ScheduledCommand.ProcessEvent, Data = "wf1", ExecuteTime = T0.AddMinutes(1).Ticks });
        await p.ScheduleCommand(new ScheduledCommand { CommandName = ScheduledCommand.ProcessEvent, Data = "ev2", ExecuteTime = T0.AddHours(1).Ticks });

        var seen = new List<(string, string, long)>();
        Task Record(ScheduledCommand c)
        {
            seen.Add((c.CommandName, c.Data, c.ExecuteTime));
            return Task.CompletedTask;
        }

        await p.ProcessCommands(new DateTimeOffset(T0), Record);
        Assert.Empty(seen);

        await p.ProcessCommands(new DateTimeOffset(T0.AddMinutes(30)), Record);
        Assert.Equal(
            [(ScheduledCommand.ProcessEvent, "wf1", T0.AddMinutes(1).Ticks), (ScheduledCommand.ProcessWorkflow, "wf1", T0.AddMinutes(5).Ticks)],
            seen);

        seen.Clear();
        await p.ProcessCommands(new DateTimeOffset(T0.AddMinutes(30)), Record);
        Assert.Empty(seen);

        // A failing action keeps its command; the others still run.
        await p.ScheduleCommand(new ScheduledCommand { CommandName = ScheduledCommand.ProcessWorkflow, Data = "wf-fails", ExecuteTime = T0.AddMinutes(2).Ticks });
        var attempts = 0;
        await p.ProcessCommands(new DateTimeOffset(T0.AddHours(2)), c =>
        {
            if (c.Data == "wf-fails")
            {
                attempts++;
                throw new InvalidOperationException("queue unavailable");
            }

            return Record(c);
        });
        Assert.Equal(1, attempts);
        Assert.Equal([(ScheduledCommand.ProcessEvent, "ev2", T0.AddHours(1).Ticks)], seen);

        seen.Clear();
        await p.ProcessCommands(new DateTimeOffset(T0.AddHours(2)), Record);
        Assert.Equal([(ScheduledCommand.ProcessWorkflow, "wf-fails", T0.AddMinutes(2).Ticks)], seen);
    }

    [Fact]
    public async Task Errors_are_persisted_with_utc_times()
    {
        var p = _store.Provider;
        await p.PersistErrors([]);
        await p.PersistErrors(
        [
            new ExecutionError { WorkflowId = "wf1", ExecutionPointerId = "ep1", ErrorTime = T0, Message = "dump: cannot open /dev/ada0s1a" },
            new ExecutionError { WorkflowId = "wf1", ExecutionPointerId = "ep2", ErrorTime = T0.AddSeconds(1).ToLocalTime(), Message = "second" },
            new ExecutionError { WorkflowId = "wf2", ExecutionPointerId = "ep9", ErrorTime = T0, Message = "other" },
        ]);

        var errors = await p.GetErrors("wf1");
        Assert.Equal(2, errors.Count);
        Assert.Equal("ep1", errors[0].ExecutionPointerId);
        Assert.Equal("dump: cannot open /dev/ada0s1a", errors[0].Message);
        AssertUtc(T0, errors[0].ErrorTime);
        AssertUtc(T0.AddSeconds(1), errors[1].ErrorTime);
        Assert.Empty(await p.GetErrors("wf-none"));
    }

    [Fact]
    public async Task Connections_use_wal_busy_timeout_and_foreign_keys()
    {
        // journal_mode=WAL is a property of the file: a fresh plain connection sees it.
        await using (var raw = _store.RawConnection())
        {
            Assert.Equal("wal", Scalar(raw, "PRAGMA journal_mode"));
        }

        var factory = _store.Services.GetRequiredService<IDbContextFactory<JailwfDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        await db.Database.OpenConnectionAsync();
        var connection = (SqliteConnection)db.Database.GetDbConnection();
        Assert.Equal("wal", Scalar(connection, "PRAGMA journal_mode"));
        Assert.Equal(5000L, Scalar(connection, "PRAGMA busy_timeout"));
        Assert.Equal(1L, Scalar(connection, "PRAGMA foreign_keys"));
        Assert.Equal(1L, Scalar(connection, "PRAGMA synchronous")); // NORMAL
    }

    [Fact]
    public async Task The_migrations_match_the_model_and_are_applied()
    {
        var factory = _store.Services.GetRequiredService<IDbContextFactory<JailwfDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        Assert.False(db.Database.HasPendingModelChanges(), "The model changed without a migration: run dotnet ef migrations add.");
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        Assert.NotEmpty(await db.Database.GetAppliedMigrationsAsync());
    }

    [Fact]
    public async Task Foreign_keys_are_enforced_on_pointers()
    {
        var factory = _store.Services.GetRequiredService<IDbContextFactory<JailwfDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        var ex = await Assert.ThrowsAsync<SqliteException>(() => db.Database.ExecuteSqlRawAsync(
            "INSERT INTO ExecutionPointers (InstanceId, Id, Ordinal, StepId, Active, Status, EventPublished, RetryCount) VALUES ('no-such-instance', 'p', 0, 0, 0, 'Pending', 0, 0)"));
        Assert.Contains("FOREIGN KEY", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("System.Diagnostics.Process, System.Diagnostics.Process")]
    [InlineData("System.IO.FileInfo, System.Private.CoreLib")]
    [InlineData("System.Collections.Generic.List`1[[System.IO.FileInfo, System.Private.CoreLib]], System.Private.CoreLib")]
    [InlineData("WorkflowCore.Services.WorkflowHost, WorkflowCore")]
    [InlineData("NoSuch.Type, NoSuchAssembly")]
    public async Task A_disallowed_type_name_in_the_data_column_is_refused(string typeName)
    {
        var p = _store.Provider;
        var id = await p.CreateNewWorkflow(NewInstance());
        await using (var raw = _store.RawConnection())
        {
            using var command = raw.CreateCommand();
            command.CommandText = "UPDATE WorkflowInstances SET Data = $data WHERE Id = $id";
            command.Parameters.AddWithValue("$data", "{\"type\":\"" + typeName + "\",\"value\":{\"FileName\":\"/bin/sh\"}}");
            command.Parameters.AddWithValue("$id", id);
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => p.GetWorkflowInstance(id));
        Assert.Contains(typeName, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_of_a_type_off_the_allowlist_is_not_written()
    {
        var instance = NewInstance();
        instance.Data = new FileInfo("/etc/rc.conf");
        await Assert.ThrowsAsync<NotSupportedException>(() => _store.Provider.CreateNewWorkflow(instance));
        await using var raw = _store.RawConnection();
        Assert.Equal(0L, Scalar(raw, "SELECT count(*) FROM WorkflowInstances"));
    }

    [Fact]
    public async Task A_second_provider_on_the_same_file_reads_what_the_first_wrote()
    {
        var instance = NewInstance(nextExecution: 0);
        instance.ExecutionPointers.Add(new ExecutionPointer { Id = "p1", StepId = 0, PersistenceData = new PartitionCheckpoint("/usr", 2, T0, ["/"]) });
        var id = await _store.Provider.CreateNewWorkflow(instance);
        await _store.Journal.AppendAsync(new JournalEntry { InstanceId = id, Kind = JournalEntryKind.Info, Message = "started" }, CancellationToken.None);
        await _store.Services.DisposeAsync();
        using (var connection = new SqliteConnection(StoreServiceCollectionExtensions.ConnectionString(_store.DatabasePath)))
        {
            SqliteConnection.ClearPool(connection);
        }

        await using var reopened = _store.Open();
        var provider = reopened.GetRequiredService<SqlitePersistenceProvider>();
        provider.EnsureStoreExists(); // migrating an up-to-date file is a no-op
        var read = (await provider.GetWorkflowInstance(id))!;
        Assert.Equal(2, Assert.IsType<PartitionCheckpoint>(read.ExecutionPointers.FindById("p1").PersistenceData).Attempt);
        Assert.Equal([id], await provider.GetRunnableInstances(T0));
        var journal = await reopened.GetRequiredService<Journal>().ReadAsync(id, 0, 10, CancellationToken.None);
        Assert.Equal("started", Assert.Single(journal).Message);
    }

    [Fact]
    public async Task Concurrent_callers_do_not_lose_writes()
    {
        var p = _store.Provider;
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var instance = NewInstance();
            instance.ExecutionPointers.Add(new ExecutionPointer { Id = "p", StepId = 0, PersistenceData = new IteratorPersistenceData() });
            ids.Add(await p.CreateNewWorkflow(instance));
        }

        // One writer per instance (WorkflowCore holds a lock per instance), all instances at once, plus journal appends.
        await Task.WhenAll(ids.Select(id => Task.Run(async () =>
        {
            for (var round = 1; round <= 25; round++)
            {
                var instance = (await p.GetWorkflowInstance(id))!;
                ((IteratorPersistenceData)instance.ExecutionPointers.FindById("p").PersistenceData).Index = round;
                await p.PersistWorkflow(instance);
                await _store.Journal.AppendAsync(new JournalEntry { InstanceId = id, Kind = JournalEntryKind.Info, Message = $"round {round}" }, CancellationToken.None);
                await p.ScheduleCommand(new ScheduledCommand { CommandName = ScheduledCommand.ProcessWorkflow, Data = id, ExecuteTime = round });
            }
        })));

        foreach (var id in ids)
        {
            var instance = (await p.GetWorkflowInstance(id))!;
            Assert.Equal(25, ((IteratorPersistenceData)instance.ExecutionPointers.FindById("p").PersistenceData).Index);
            var entries = await _store.Journal.ReadAsync(id, 0, 100, CancellationToken.None);
            Assert.Equal(Enumerable.Range(1, 25).Select(r => $"round {r}"), entries.Select(e => e.Message));
        }

        var processed = new List<string>();
        await p.ProcessCommands(DateTimeOffset.MaxValue, c =>
        {
            processed.Add(c.Data);
            return Task.CompletedTask;
        });
        Assert.Equal(ids.Order(), processed.Order());
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static void AssertUtc(DateTime expected, DateTime actual)
    {
        Assert.Equal(DateTimeKind.Utc, actual.Kind);
        Assert.Equal(expected.ToUniversalTime(), actual);
    }
}
