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
    private long? _seen;

    private StoreChanges(SqliteConnection connection)
    {
        _connection = connection;
        _version = connection.CreateCommand();
        _version.CommandText = "PRAGMA data_version;";
    }

    /// <summary>Opens a watch on a database file (read-only; the file must exist).</summary>
    /// <param name="databasePath">The SQLite file.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The watch; its first <see cref="ChangedAsync"/> answers true.</returns>
    /// <exception cref="SqliteException">The file cannot be opened.</exception>
    public static async Task<StoreChanges> OpenAsync(string databasePath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return new StoreChanges(connection);
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

    /// <summary>Closes the connection.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        await _version.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
