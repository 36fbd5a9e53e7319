using System.Globalization;
using Microsoft.Data.Sqlite;

namespace JailWorkflows.Server.Schedules;

/// <summary>
/// The schedules' journal (append-only): every fire's decision (started, skipped for an overlap, queued, missed) and every
/// change by a person, in the table <c>JAILWF_SCHEDULE_EVENTS</c> of the schedules database, created when missing.
/// </summary>
public sealed class ScheduleJournal
{
    private readonly string _connectionString;
    private readonly TimeProvider _time;

    /// <summary>Opens the journal in the schedules database (the table is created when missing).</summary>
    /// <param name="schedulesPath">The schedules database file.</param>
    /// <param name="time">The clock.</param>
    public ScheduleJournal(string schedulesPath, TimeProvider time)
    {
        _connectionString = ConnectionString(schedulesPath);
        _time = time;
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS JAILWF_SCHEDULE_EVENTS (
              ID INTEGER PRIMARY KEY AUTOINCREMENT,
              SCHEDULE_ID TEXT NOT NULL,
              AT TEXT NOT NULL,
              FIRE_TIME TEXT NULL,
              KIND TEXT NOT NULL,
              MESSAGE TEXT NOT NULL,
              INSTANCES TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS IX_JAILWF_SCHEDULE_EVENTS_SCHEDULE ON JAILWF_SCHEDULE_EVENTS (SCHEDULE_ID, ID);
            """;
        command.ExecuteNonQuery();
    }

    /// <summary>The connection string of a schedules database (busy timeout, so Quartz and the journal wait for each other).</summary>
    /// <param name="schedulesPath">The file.</param>
    /// <returns>The connection string.</returns>
    public static string ConnectionString(string schedulesPath) =>
        new SqliteConnectionStringBuilder { DataSource = schedulesPath, Mode = SqliteOpenMode.ReadWriteCreate, DefaultTimeout = 30, Pooling = true }.ToString();

    /// <summary>Appends an entry.</summary>
    /// <param name="scheduleId">The schedule.</param>
    /// <param name="kind">What was decided.</param>
    /// <param name="message">For people.</param>
    /// <param name="fireTime">The fire time it is about, if any.</param>
    /// <param name="instances">The instances concerned.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The entry.</returns>
    public async Task<ScheduleEvent> AppendAsync(string scheduleId, ScheduleEventKind kind, string message, DateTimeOffset? fireTime = null, IReadOnlyList<string>? instances = null, CancellationToken cancellationToken = default)
    {
        var at = _time.GetUtcNow();
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO JAILWF_SCHEDULE_EVENTS (SCHEDULE_ID, AT, FIRE_TIME, KIND, MESSAGE, INSTANCES) VALUES ($s, $a, $f, $k, $m, $i) RETURNING ID";
        command.Parameters.AddWithValue("$s", scheduleId);
        command.Parameters.AddWithValue("$a", at.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("$f", fireTime is { } f ? f.UtcDateTime.ToString("O", CultureInfo.InvariantCulture) : DBNull.Value);
        command.Parameters.AddWithValue("$k", kind.ToString());
        command.Parameters.AddWithValue("$m", message);
        command.Parameters.AddWithValue("$i", string.Join(' ', instances ?? []));
        var id = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        return new ScheduleEvent(id, scheduleId, at, fireTime, kind, message, instances ?? []);
    }

    /// <summary>A schedule's entries, oldest first.</summary>
    /// <param name="scheduleId">The schedule.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The entries.</returns>
    public async Task<IReadOnlyList<ScheduleEvent>> ReadAsync(string scheduleId, CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT ID, SCHEDULE_ID, AT, FIRE_TIME, KIND, MESSAGE, INSTANCES FROM JAILWF_SCHEDULE_EVENTS WHERE SCHEDULE_ID = $s ORDER BY ID";
        command.Parameters.AddWithValue("$s", scheduleId);
        var events = new List<ScheduleEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            events.Add(new ScheduleEvent(
                reader.GetInt64(0),
                reader.GetString(1),
                DateTimeOffset.Parse(reader.GetString(2), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
                reader.IsDBNull(3) ? null : DateTimeOffset.Parse(reader.GetString(3), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
                Enum.Parse<ScheduleEventKind>(reader.GetString(4)),
                reader.GetString(5),
                reader.GetString(6).Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        }

        return events;
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }
}
