using JailWorkflows.Engine.Store;

namespace JailWorkflows.Tests.Store;

public sealed class JournalTests : IDisposable
{
    private readonly TempStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public async Task Append_sets_id_and_timestamp_from_the_time_provider_and_read_pages_by_id()
    {
        var journal = _store.Journal;
        var first = new JournalEntry { InstanceId = "wf1", Kind = JournalEntryKind.StepStarted, Step = "Transfer", Message = "transfer of /usr started" };
        await journal.AppendAsync(first, CancellationToken.None);
        Assert.True(first.Id > 0);
        Assert.Equal(_store.Clock.GetUtcNow().UtcDateTime, first.Timestamp);

        _store.Clock.Advance(TimeSpan.FromMinutes(3));
        var explicitTime = new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        await journal.AppendAsync(new JournalEntry { InstanceId = "wf2", Kind = JournalEntryKind.Warning, Message = "other instance" }, CancellationToken.None);
        var finished = new JournalEntry { InstanceId = "wf1", Kind = JournalEntryKind.JobFinished, Step = "Transfer", JobId = "job-7", ExitStatus = 3, Message = "restore exited 3", Timestamp = explicitTime };
        await journal.AppendAsync(finished, CancellationToken.None);
        await journal.AppendAsync(new JournalEntry { InstanceId = "wf1", Kind = JournalEntryKind.OperatorAction, Message = "retry approved by root" }, CancellationToken.None);
        Assert.True(finished.Id > first.Id);

        var all = await journal.ReadAsync("wf1", 0, 100, CancellationToken.None);
        Assert.Equal([JournalEntryKind.StepStarted, JournalEntryKind.JobFinished, JournalEntryKind.OperatorAction], all.Select(e => e.Kind));
        Assert.All(all, e => Assert.Equal(DateTimeKind.Utc, e.Timestamp.Kind));
        Assert.Equal(first.Timestamp, all[0].Timestamp);
        Assert.Equal(explicitTime, all[1].Timestamp);
        Assert.Equal(_store.Clock.GetUtcNow().UtcDateTime, all[2].Timestamp);
        Assert.Equal("Transfer", all[1].Step);
        Assert.Equal("job-7", all[1].JobId);
        Assert.Equal(3, all[1].ExitStatus);
        Assert.Null(all[0].ExitStatus);

        var page = await journal.ReadAsync("wf1", first.Id, 1, CancellationToken.None);
        Assert.Equal(finished.Id, Assert.Single(page).Id);
        Assert.Empty(await journal.ReadAsync("wf1", all[^1].Id, 10, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => journal.ReadAsync("wf1", 0, 0, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => journal.AppendAsync(first, CancellationToken.None));

        // Kinds are stored by name.
        await using var raw = _store.RawConnection();
        using var command = raw.CreateCommand();
        command.CommandText = "SELECT Kind FROM JournalEntries WHERE Id = $id";
        command.Parameters.AddWithValue("$id", finished.Id);
        Assert.Equal("JobFinished", command.ExecuteScalar());
    }

    [Fact]
    public async Task Job_output_lines_are_appended_in_order_in_one_batch()
    {
        var journal = _store.Journal;
        await journal.AppendAsync(new JournalEntry { InstanceId = "wf1", Kind = JournalEntryKind.JobStarted, JobId = "job-1", Message = "dump | restore" }, CancellationToken.None);
        var lines = Enumerable.Range(1, 500).Select(i => $"  DUMP: {i / 5.0:0.0}% done, finished in 0:{500 - i:000}").ToList();
        var appended = await journal.AppendJobOutputAsync("wf1", "Transfer", "job-1", lines, CancellationToken.None);
        Assert.Equal(500, appended.Count);
        Assert.Empty(await journal.AppendJobOutputAsync("wf1", "Transfer", "job-1", [], CancellationToken.None));

        var read = new List<JournalEntry>();
        long after = 0;
        while (true)
        {
            var page = await journal.ReadAsync("wf1", after, 128, CancellationToken.None);
            if (page.Count == 0)
            {
                break;
            }

            read.AddRange(page);
            after = page[^1].Id;
        }

        Assert.Equal(501, read.Count);
        Assert.Equal(lines, read.Skip(1).Select(e => e.Message));
        Assert.All(read.Skip(1), e =>
        {
            Assert.Equal(JournalEntryKind.JobOutput, e.Kind);
            Assert.Equal("job-1", e.JobId);
            Assert.Equal("Transfer", e.Step);
        });
        Assert.Equal(appended.Select(e => e.Id), read.Skip(1).Select(e => e.Id));
    }
}

public sealed class DefinitionVersionStoreTests : IDisposable
{
    private readonly TempStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public async Task Versions_are_immutable_and_the_ones_live_instances_pin_are_listed()
    {
        var definitions = _store.Definitions;
        Assert.True(await definitions.AddAsync("consolidate", 1, """{"id":"consolidate","version":1}""", CancellationToken.None));
        Assert.False(await definitions.AddAsync("consolidate", 1, """{"id":"consolidate","version":1}""", CancellationToken.None));
        await Assert.ThrowsAsync<InvalidOperationException>(() => definitions.AddAsync("consolidate", 1, """{"changed":true}""", CancellationToken.None));
        Assert.True(await definitions.AddAsync("consolidate", 2, """{"id":"consolidate","version":2}""", CancellationToken.None));
        Assert.True(await definitions.AddAsync("buildworld", 1, "{}", CancellationToken.None));

        var v1 = (await definitions.GetAsync("consolidate", 1, CancellationToken.None))!;
        Assert.Equal("""{"id":"consolidate","version":1}""", v1.Json);
        Assert.Equal(DateTimeKind.Utc, v1.RegisteredAt.Kind);
        Assert.Equal(_store.Clock.GetUtcNow().UtcDateTime, v1.RegisteredAt);
        Assert.Null(await definitions.GetAsync("consolidate", 9, CancellationToken.None));
        Assert.Equal(["buildworld/1", "consolidate/1", "consolidate/2"], (await definitions.ListAsync(CancellationToken.None)).Select(d => $"{d.DefinitionId}/{d.Version}"));

        var p = _store.Provider;
        await p.CreateNewWorkflow(new WorkflowCore.Models.WorkflowInstance { WorkflowDefinitionId = "consolidate", Version = 1, Status = WorkflowCore.Models.WorkflowStatus.Suspended });
        await p.CreateNewWorkflow(new WorkflowCore.Models.WorkflowInstance { WorkflowDefinitionId = "consolidate", Version = 2, Status = WorkflowCore.Models.WorkflowStatus.Complete });
        await p.CreateNewWorkflow(new WorkflowCore.Models.WorkflowInstance { WorkflowDefinitionId = "buildworld", Version = 1, Status = WorkflowCore.Models.WorkflowStatus.Runnable });
        Assert.Equal(["buildworld/1", "consolidate/1"], (await definitions.ListInUseAsync(CancellationToken.None)).Select(d => $"{d.DefinitionId}/{d.Version}"));
    }
}
