using Microsoft.Data.Sqlite;

namespace JailWorkflows.Engine.Store;

/// <summary>
/// Tells whether anything was committed to the store since the last look, so that followers (<c>jailwf run</c>'s
/// progress, the API's event streams) read an instance's view only when something changed instead of on every tick.
/// </summary>
/// <remarks>
/// SQLite's <c>PRAGMA data_version</c> on a read-only connection of its own: the value changes whenever another
/// connection, of this process or another, commits to the database (https://sqlite.org/pragma.html#pragma_data_version),
/// and it costs no read of any table. The connection never writes, so its own commits cannot hide others'.
/// </remarks>
public sealed class StoreChanges : IAsyncDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _version;
    private readonly TimeProvider _time;
    private long? _seen;
    private long? _readAt;

    private StoreChanges(SqliteConnection connection, TimeProvider time)
    {
        _connection = connection;
        _time = time;
        _version = connection.CreateCommand();
        _version.CommandText = "PRAGMA data_version;";
    }

    /// <summary>Opens a watch on a database file (read-only; the file must exist).</summary>
    /// <param name="databasePath">The SQLite file.</param>
    /// <param name="time">The clock <see cref="ReadDueAsync"/> measures its refresh by; default the system clock.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The watch; its first <see cref="ChangedAsync"/> (and <see cref="ReadDueAsync"/>) answers true.</returns>
    /// <exception cref="SqliteException">The file cannot be opened.</exception>
    public static async Task<StoreChanges> OpenAsync(string databasePath, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return new StoreChanges(connection, time ?? TimeProvider.System);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Whether another connection committed since the previous call (true on the first call).</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>True when something may have changed.</returns>
    /// <exception cref="SqliteException">The database cannot be read.</exception>
    public async Task<bool> ChangedAsync(CancellationToken cancellationToken = default)
    {
        var version = Convert.ToInt64(await _version.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        var changed = _seen != version;
        _seen = version;
        return changed;
    }

    /// <summary>
    /// Whether a follower should read its views now: when something was committed since the previous call
    /// (<see cref="ChangedAsync"/>), on the first call, and at least every <paramref name="refresh"/> for what changes without
    /// a commit (an engine that died reads Interrupted).
    /// </summary>
    /// <param name="refresh">The longest time between two reads, e.g. 5 s.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>True when the follower should read now (the refresh is then counted from now).</returns>
    /// <exception cref="SqliteException">The database cannot be read.</exception>
    public async Task<bool> ReadDueAsync(TimeSpan refresh, CancellationToken cancellationToken = default)
    {
        if (await ChangedAsync(cancellationToken).ConfigureAwait(false) || _readAt is null || _time.GetElapsedTime(_readAt.Value) >= refresh)
        {
            _readAt = _time.GetTimestamp();
            return true;
        }

        return false;
    }

    /// <summary>Closes the connection.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        await _version.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
