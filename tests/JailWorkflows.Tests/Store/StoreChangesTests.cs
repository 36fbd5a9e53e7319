using JailWorkflows.Engine.Store;
using Microsoft.Extensions.DependencyInjection;

namespace JailWorkflows.Tests.Store;

/// <summary>The store's change watch (PRAGMA data_version) that followers read views by.</summary>
public sealed class StoreChangesTests : IDisposable
{
    private readonly TempStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public async Task A_commit_by_any_other_connection_is_seen_once_and_reads_change_nothing()
    {
        await using var changes = await StoreChanges.OpenAsync(_store.DatabasePath);
        Assert.True(await changes.ChangedAsync()); // the first look
        Assert.False(await changes.ChangedAsync());

        // A journal entry through the store (EF Core, a pooled connection of this process).
        await _store.Journal.AppendAsync(new JournalEntry { InstanceId = "i1", Kind = JournalEntryKind.Info, Message = "one" }, CancellationToken.None);
        Assert.True(await changes.ChangedAsync());
        Assert.False(await changes.ChangedAsync());

        // Reads through the store are no change.
        Assert.Single(await _store.Journal.ReadAsync("i1", 0, 10, CancellationToken.None));
        Assert.False(await changes.ChangedAsync());

        // A commit by a plain connection (as another process's would be).
        using (var raw = _store.RawConnection())
        using (var update = raw.CreateCommand())
        {
            update.CommandText = "UPDATE JournalEntries SET Message = 'two'";
            Assert.Equal(1, update.ExecuteNonQuery());
        }

        Assert.True(await changes.ChangedAsync());
        Assert.False(await changes.ChangedAsync());
    }

    [Fact]
    public async Task A_read_is_due_on_a_commit_and_at_least_every_refresh()
    {
        var refresh = TimeSpan.FromSeconds(5);
        await using var changes = await StoreChanges.OpenAsync(_store.DatabasePath, _store.Clock);
        Assert.True(await changes.ReadDueAsync(refresh)); // the first look
        Assert.False(await changes.ReadDueAsync(refresh));
        _store.Clock.Advance(TimeSpan.FromSeconds(4));
        Assert.False(await changes.ReadDueAsync(refresh));
        _store.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await changes.ReadDueAsync(refresh)); // nothing committed, but 5 s passed
        Assert.False(await changes.ReadDueAsync(refresh));

        await _store.Journal.AppendAsync(new JournalEntry { InstanceId = "i1", Kind = JournalEntryKind.Info, Message = "one" }, CancellationToken.None);
        Assert.True(await changes.ReadDueAsync(refresh)); // a commit, at once
        _store.Clock.Advance(TimeSpan.FromSeconds(4));
        Assert.False(await changes.ReadDueAsync(refresh)); // the refresh counts from that read
    }

    [Fact]
    public async Task A_missing_database_is_not_created()
    {
        var path = Path.Combine(_store.Directory, "none.db");
        await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => StoreChanges.OpenAsync(path));
        Assert.False(File.Exists(path));
    }
}
