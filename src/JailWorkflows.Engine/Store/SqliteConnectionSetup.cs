using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace JailWorkflows.Engine.Store;

/// <summary>
/// Sets the store's SQLite pragmas on every connection EF Core opens: write-ahead logging, a busy
/// timeout, foreign keys, and <c>synchronous=NORMAL</c> (in WAL mode: durable across a crash of the
/// process; an OS crash or power loss may lose the last commits, never corrupt the file).
/// </summary>
internal sealed class SqliteConnectionSetup : DbConnectionInterceptor
{
    /// <summary>How long a statement waits for another connection's lock before SQLITE_BUSY, in milliseconds.</summary>
    public const int BusyTimeoutMilliseconds = 5000;

    /// <summary>The pragmas run on every connection the store opens.</summary>
    internal static readonly string Pragmas =
        $"PRAGMA journal_mode=WAL; PRAGMA busy_timeout={BusyTimeoutMilliseconds}; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;";

    public static SqliteConnectionSetup Instance { get; } = new();

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.CommandText = Pragmas;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
