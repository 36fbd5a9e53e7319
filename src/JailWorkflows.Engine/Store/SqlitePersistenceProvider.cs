using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using WorkflowCore.Interface;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Store;

/// <summary>
/// WorkflowCore's persistence provider on the engine's SQLite file (<see cref="JailwfDbContext"/>).
/// Thread-safe: every call uses its own short-lived context; register it once (singleton) and hand
/// it to WorkflowCore with <c>options.UsePersistence(sp =&gt; sp.GetRequiredService&lt;SqlitePersistenceProvider&gt;())</c>.
/// </summary>
/// <remarks>
/// <para>Times: every <see cref="DateTime"/> argument of <see cref="DateTimeKind.Local"/> is converted to UTC,
/// one of <see cref="DateTimeKind.Unspecified"/> is taken as UTC; everything read back is <see cref="DateTimeKind.Utc"/>.
/// <see cref="WorkflowInstance.NextExecution"/> and <see cref="ScheduledCommand.ExecuteTime"/> are UTC ticks.</para>
/// <para>Object fields (instance data, persistence data, event data, outcomes, context items, extension
/// attributes, subscription data) are stored as System.Text.Json with their type name and come back as that
/// type; only allowlisted types are written or read (types of <c>WorkflowCore.Models</c>, of
/// <c>JailWorkflows.*</c> assemblies, primitive/System value types, enums, arrays and generic collections
/// of those). Writing another type throws <see cref="NotSupportedException"/>; reading a row that names
/// another type throws <see cref="InvalidDataException"/>.</para>
/// </remarks>
/// <param name="contexts">Creates the short-lived contexts.</param>
/// <param name="logger">Logs scheduled commands whose action failed.</param>
public sealed partial class SqlitePersistenceProvider(
    IDbContextFactory<JailwfDbContext> contexts,
    ILogger<SqlitePersistenceProvider> logger) : IPersistenceProvider
{
    private static readonly JsonSerializerOptions ListJson = new(JsonSerializerDefaults.General);

    /// <summary>
    /// False: WorkflowCore's poller then queues runnable instances itself, guarded by its greylist. With true it
    /// schedules an instance that is still running on every poll and its consumer re-queues it at once, which
    /// kept a core busy for as long as a step ran (one engine process per database, so nothing is lost). The
    /// scheduled-command methods stay implemented and tested for a later multi-node store.
    /// </summary>
    public bool SupportsScheduledCommands => false;

    /// <summary>Creates or upgrades the schema by applying the EF Core migrations (<c>Database.Migrate()</c>); creates the file if missing.</summary>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">The file cannot be opened or migrated.</exception>
    public void EnsureStoreExists()
    {
        using var db = contexts.CreateDbContext();
        db.Database.Migrate();
    }

    // ---- IWorkflowRepository ------------------------------------------------------------------

    /// <summary>Stores a new instance with its pointers, giving it a new id (a GUID string) which is written to <paramref name="workflow"/> and returned.</summary>
    /// <param name="workflow">The instance.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The new instance id.</returns>
    /// <exception cref="NotSupportedException">An object field holds a type the store does not keep.</exception>
    public async Task<string> CreateNewWorkflow(WorkflowInstance workflow, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        var id = Guid.NewGuid().ToString();
        var row = new WorkflowInstanceRow { Id = id, WorkflowDefinitionId = workflow.WorkflowDefinitionId ?? string.Empty };
        CopyToRow(workflow, row);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            db.WorkflowInstances.Add(row);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        workflow.Id = id;
        return id;
    }

    /// <summary>Saves an existing instance: its fields and its pointers (added, changed and removed ones), in one transaction.</summary>
    /// <param name="workflow">The instance; its <see cref="WorkflowInstance.Id"/> must exist.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="InvalidOperationException">No instance with that id is stored.</exception>
    /// <exception cref="NotSupportedException">An object field holds a type the store does not keep.</exception>
    public Task PersistWorkflow(WorkflowInstance workflow, CancellationToken cancellationToken = default)
        => PersistWorkflow(workflow, null, cancellationToken);

    /// <summary>
    /// Saves an existing instance like <see cref="PersistWorkflow(WorkflowInstance, CancellationToken)"/> and, in the
    /// same transaction, stores the new <paramref name="subscriptions"/> (each gets a new id written to it).
    /// </summary>
    /// <param name="workflow">The instance; its <see cref="WorkflowInstance.Id"/> must exist.</param>
    /// <param name="subscriptions">New event subscriptions, or null (WorkflowCore passes null when the step threw).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="InvalidOperationException">No instance with that id is stored.</exception>
    /// <exception cref="NotSupportedException">An object field holds a type the store does not keep.</exception>
    public async Task PersistWorkflow(WorkflowInstance workflow, List<EventSubscription>? subscriptions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var row = await db.WorkflowInstances
                .AsTracking()
                .Include(x => x.ExecutionPointers)
                .SingleOrDefaultAsync(x => x.Id == workflow.Id, cancellationToken)
                .ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Workflow instance '{workflow.Id}' is not stored.");

            CopyToRow(workflow, row);
            foreach (var subscription in subscriptions ?? [])
            {
                db.EventSubscriptions.Add(NewSubscriptionRow(subscription));
            }

            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Ids of instances that are <see cref="WorkflowStatus.Runnable"/> and whose <see cref="WorkflowInstance.NextExecution"/> is set and at or before <paramref name="asAt"/>.</summary>
    /// <param name="asAt">The moment (WorkflowCore passes local time; converted to UTC).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>Instance ids, most overdue first.</returns>
    public async Task<IEnumerable<string>> GetRunnableInstances(DateTime asAt, CancellationToken cancellationToken = default)
    {
        var now = UtcTime.ToUtc(asAt).Ticks;
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.WorkflowInstances
                .Where(x => x.Status == WorkflowStatus.Runnable && x.NextExecution != null && x.NextExecution <= now)
                .OrderBy(x => x.NextExecution)
                .Select(x => x.Id)
                .ToListAsync(cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>Instances filtered by status, definition id and creation time, ordered by creation time, paged.</summary>
    /// <param name="status">Only this status, or null for any.</param>
    /// <param name="type">Only this workflow definition id, or null/empty for any.</param>
    /// <param name="createdFrom">Created at or after (inclusive), or null.</param>
    /// <param name="createdTo">Created at or before (inclusive), or null.</param>
    /// <param name="skip">Rows to skip.</param>
    /// <param name="take">Rows to return at most.</param>
    /// <returns>The instances with their pointers.</returns>
    [Obsolete("WorkflowCore marks this overload obsolete; use GetWorkflowInstances(ids) or a search index.")]
    public async Task<IEnumerable<WorkflowInstance>> GetWorkflowInstances(WorkflowStatus? status, string? type, DateTime? createdFrom, DateTime? createdTo, int skip, int take)
    {
        var db = await contexts.CreateDbContextAsync().ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            IQueryable<WorkflowInstanceRow> query = db.WorkflowInstances.Include(x => x.ExecutionPointers);
            if (status is { } s)
            {
                query = query.Where(x => x.Status == s);
            }

            if (!string.IsNullOrEmpty(type))
            {
                query = query.Where(x => x.WorkflowDefinitionId == type);
            }

            if (createdFrom is { } from)
            {
                var fromUtc = UtcTime.ToUtc(from);
                query = query.Where(x => x.CreateTime >= fromUtc);
            }

            if (createdTo is { } to)
            {
                var toUtc = UtcTime.ToUtc(to);
                query = query.Where(x => x.CreateTime <= toUtc);
            }

            var rows = await query.OrderBy(x => x.CreateTime).ThenBy(x => x.Id).Skip(skip).Take(take).AsSplitQuery().ToListAsync().ConfigureAwait(false);
            return rows.Select(ToModel).ToList();
        }
    }

    /// <summary>One instance with its pointers, or null when no instance has that id.</summary>
    /// <param name="Id">The instance id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The instance or null.</returns>
    /// <exception cref="InvalidDataException">A stored object field names a type off the allowlist or is malformed.</exception>
    public async Task<WorkflowInstance?> GetWorkflowInstance(string Id, CancellationToken cancellationToken = default)
    {
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var row = await db.WorkflowInstances
                .Include(x => x.ExecutionPointers)
                .SingleOrDefaultAsync(x => x.Id == Id, cancellationToken)
                .ConfigureAwait(false);
            return row is null ? null : ToModel(row);
        }
    }

    /// <summary>The instances with the given ids that exist (unknown ids are skipped), with their pointers.</summary>
    /// <param name="ids">Instance ids; null gives an empty result.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The instances.</returns>
    public async Task<IEnumerable<WorkflowInstance>> GetWorkflowInstances(IEnumerable<string>? ids, CancellationToken cancellationToken = default)
    {
        var wanted = ids?.Distinct(StringComparer.Ordinal).ToList() ?? [];
        if (wanted.Count == 0)
        {
            return [];
        }

        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var rows = await db.WorkflowInstances
                .Include(x => x.ExecutionPointers)
                .Where(x => wanted.Contains(x.Id))
                .AsSplitQuery()
                .ToListAsync(cancellationToken)
                .ConfigureAwait(false);
            return rows.Select(ToModel).ToList();
        }
    }

    // ---- ISubscriptionRepository --------------------------------------------------------------

    /// <summary>Stores a new subscription, giving it a new id which is written to <paramref name="subscription"/> and returned.</summary>
    /// <param name="subscription">The subscription.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The new subscription id.</returns>
    public async Task<string> CreateEventSubscription(EventSubscription subscription, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var row = NewSubscriptionRow(subscription);
            db.EventSubscriptions.Add(row);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return row.Id;
        }
    }

    /// <summary>Subscriptions to the event (name and key) that began at or before <paramref name="asOf"/>.</summary>
    /// <param name="eventName">Event name.</param>
    /// <param name="eventKey">Event key.</param>
    /// <param name="asOf">The event's time.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The subscriptions, oldest first.</returns>
    public async Task<IEnumerable<EventSubscription>> GetSubscriptions(string eventName, string eventKey, DateTime asOf, CancellationToken cancellationToken = default)
    {
        var asOfUtc = UtcTime.ToUtc(asOf);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var rows = await db.EventSubscriptions
                .Where(x => x.EventName == eventName && x.EventKey == eventKey && x.SubscribeAsOf <= asOfUtc)
                .OrderBy(x => x.SubscribeAsOf).ThenBy(x => x.Id)
                .ToListAsync(cancellationToken)
                .ConfigureAwait(false);
            return rows.Select(ToModel).ToList();
        }
    }

    /// <summary>Deletes a subscription (the event reached it). Deleting one that is not stored does nothing.</summary>
    /// <param name="eventSubscriptionId">Subscription id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task TerminateSubscription(string eventSubscriptionId, CancellationToken cancellationToken = default)
    {
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            await db.EventSubscriptions.Where(x => x.Id == eventSubscriptionId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One subscription, or null when none has that id.</summary>
    /// <param name="eventSubscriptionId">Subscription id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The subscription or null.</returns>
    public async Task<EventSubscription?> GetSubscription(string eventSubscriptionId, CancellationToken cancellationToken = default)
    {
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var row = await db.EventSubscriptions.SingleOrDefaultAsync(x => x.Id == eventSubscriptionId, cancellationToken).ConfigureAwait(false);
            return row is null ? null : ToModel(row);
        }
    }

    /// <summary>The oldest subscription to the event that began at or before <paramref name="asOf"/> and holds no external token, or null.</summary>
    /// <param name="eventName">Event name (for activities, <see cref="Event.EventTypeActivity"/>).</param>
    /// <param name="eventKey">Event key (for activities, the activity name).</param>
    /// <param name="asOf">The moment.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The subscription or null.</returns>
    public async Task<EventSubscription?> GetFirstOpenSubscription(string eventName, string eventKey, DateTime asOf, CancellationToken cancellationToken = default)
    {
        var asOfUtc = UtcTime.ToUtc(asOf);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var row = await db.EventSubscriptions
                .Where(x => x.EventName == eventName && x.EventKey == eventKey && x.SubscribeAsOf <= asOfUtc && x.ExternalToken == null)
                .OrderBy(x => x.SubscribeAsOf).ThenBy(x => x.Id)
                .FirstOrDefaultAsync(cancellationToken)
                .ConfigureAwait(false);
            return row is null ? null : ToModel(row);
        }
    }

    /// <summary>
    /// Claims a subscription for an external worker (WorkflowCore activities): sets token, worker id and expiry,
    /// atomically and only if the subscription holds no token yet.
    /// </summary>
    /// <param name="eventSubscriptionId">Subscription id.</param>
    /// <param name="token">The token.</param>
    /// <param name="workerId">The worker claiming it.</param>
    /// <param name="expiry">When the claim expires.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>True when claimed; false when the subscription does not exist or another token holds it.</returns>
    public async Task<bool> SetSubscriptionToken(string eventSubscriptionId, string token, string workerId, DateTime expiry, CancellationToken cancellationToken = default)
    {
        var expiryUtc = UtcTime.ToUtc(expiry);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var updated = await db.EventSubscriptions
                .Where(x => x.Id == eventSubscriptionId && x.ExternalToken == null)
                .ExecuteUpdateAsync(
                    s => s.SetProperty(x => x.ExternalToken, token)
                        .SetProperty(x => x.ExternalWorkerId, workerId)
                        .SetProperty(x => x.ExternalTokenExpiry, expiryUtc),
                    cancellationToken)
                .ConfigureAwait(false);
            return updated == 1;
        }
    }

    /// <summary>Releases a subscription claimed with <paramref name="token"/>: clears token, worker id and expiry.</summary>
    /// <param name="eventSubscriptionId">Subscription id.</param>
    /// <param name="token">The token it was claimed with.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="InvalidOperationException">The subscription does not exist or holds another token.</exception>
    public async Task ClearSubscriptionToken(string eventSubscriptionId, string token, CancellationToken cancellationToken = default)
    {
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var updated = await db.EventSubscriptions
                .Where(x => x.Id == eventSubscriptionId && x.ExternalToken == token)
                .ExecuteUpdateAsync(
                    s => s.SetProperty(x => x.ExternalToken, (string?)null)
                        .SetProperty(x => x.ExternalWorkerId, (string?)null)
                        .SetProperty(x => x.ExternalTokenExpiry, (DateTime?)null),
                    cancellationToken)
                .ConfigureAwait(false);
            if (updated == 0)
            {
                var exists = await db.EventSubscriptions.AnyAsync(x => x.Id == eventSubscriptionId, cancellationToken).ConfigureAwait(false);
                throw new InvalidOperationException(exists
                    ? $"Subscription '{eventSubscriptionId}' is held by another token."
                    : $"Subscription '{eventSubscriptionId}' is not stored.");
            }
        }
    }

    // ---- IEventRepository ---------------------------------------------------------------------

    /// <summary>Stores a new event, giving it a new id which is written to <paramref name="newEvent"/> and returned.</summary>
    /// <param name="newEvent">The event.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The new event id.</returns>
    /// <exception cref="NotSupportedException">The event data is of a type the store does not keep.</exception>
    public async Task<string> CreateEvent(Event newEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newEvent);
        var row = new EventRow
        {
            Id = Guid.NewGuid().ToString(),
            EventName = newEvent.EventName,
            EventKey = newEvent.EventKey,
            EventData = StoredObjectCodec.Encode(newEvent.EventData),
            EventTime = UtcTime.ToUtc(newEvent.EventTime),
            IsProcessed = newEvent.IsProcessed,
        };
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            db.Events.Add(row);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        newEvent.Id = row.Id;
        return row.Id;
    }

    /// <summary>One event, or null when none has that id.</summary>
    /// <param name="id">Event id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The event or null.</returns>
    public async Task<Event?> GetEvent(string id, CancellationToken cancellationToken = default)
    {
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var row = await db.Events.SingleOrDefaultAsync(x => x.Id == id, cancellationToken).ConfigureAwait(false);
            return row is null ? null : new Event
            {
                Id = row.Id,
                EventName = row.EventName,
                EventKey = row.EventKey,
                EventData = StoredObjectCodec.Decode(row.EventData),
                EventTime = row.EventTime,
                IsProcessed = row.IsProcessed,
            };
        }
    }

    /// <summary>Ids of unprocessed events whose time is at or before <paramref name="asAt"/>.</summary>
    /// <param name="asAt">The moment.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>Event ids, oldest first.</returns>
    public async Task<IEnumerable<string>> GetRunnableEvents(DateTime asAt, CancellationToken cancellationToken = default)
    {
        var asAtUtc = UtcTime.ToUtc(asAt);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.Events
                .Where(x => !x.IsProcessed && x.EventTime <= asAtUtc)
                .OrderBy(x => x.EventTime).ThenBy(x => x.Id)
                .Select(x => x.Id)
                .ToListAsync(cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>Ids of events (processed or not) with this name and key whose time is at or after <paramref name="asOf"/>.</summary>
    /// <param name="eventName">Event name.</param>
    /// <param name="eventKey">Event key.</param>
    /// <param name="asOf">The subscription's start.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>Event ids, oldest first.</returns>
    public async Task<IEnumerable<string>> GetEvents(string eventName, string eventKey, DateTime asOf, CancellationToken cancellationToken = default)
    {
        var asOfUtc = UtcTime.ToUtc(asOf);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.Events
                .Where(x => x.EventName == eventName && x.EventKey == eventKey && x.EventTime >= asOfUtc)
                .OrderBy(x => x.EventTime).ThenBy(x => x.Id)
                .Select(x => x.Id)
                .ToListAsync(cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>Marks an event processed. An unknown id does nothing.</summary>
    /// <param name="id">Event id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public Task MarkEventProcessed(string id, CancellationToken cancellationToken = default)
        => SetEventProcessed(id, true, cancellationToken);

    /// <summary>Marks an event unprocessed, so it is delivered again. An unknown id does nothing.</summary>
    /// <param name="id">Event id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public Task MarkEventUnprocessed(string id, CancellationToken cancellationToken = default)
        => SetEventProcessed(id, false, cancellationToken);

    // ---- IScheduledCommandRepository ----------------------------------------------------------

    /// <summary>
    /// Schedules a command. A command with the same name and data that is already scheduled is kept once,
    /// at the earlier of the two times (a later wake-up is then found again by WorkflowCore's runnable poll).
    /// </summary>
    /// <param name="command">The command; <see cref="ScheduledCommand.ExecuteTime"/> is UTC ticks.</param>
    /// <exception cref="ArgumentException">Command name or data is null.</exception>
    public async Task ScheduleCommand(ScheduledCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentException.ThrowIfNullOrEmpty(command.CommandName, nameof(command));
        ArgumentNullException.ThrowIfNull(command.Data, nameof(command));
        var db = await contexts.CreateDbContextAsync().ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            await db.Database.ExecuteSqlAsync(
                $"""
                INSERT INTO "ScheduledCommands" ("CommandName", "Data", "ExecuteTime") VALUES ({command.CommandName}, {command.Data}, {command.ExecuteTime})
                ON CONFLICT ("CommandName", "Data") DO UPDATE SET "ExecuteTime" = min("ExecuteTime", excluded."ExecuteTime")
                """).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> for each command due before <paramref name="asOf"/>, oldest first, and deletes
    /// each command once its action completed. A command whose action throws is logged and kept for the next call.
    /// </summary>
    /// <param name="asOf">The moment.</param>
    /// <param name="action">What to do with a due command (WorkflowCore queues the workflow or event).</param>
    /// <param name="cancellationToken">Stops between commands.</param>
    public async Task ProcessCommands(DateTimeOffset asOf, Func<ScheduledCommand, Task> action, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(action);
        var dueBefore = asOf.UtcTicks;
        List<ScheduledCommandRow> due;
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            due = await db.ScheduledCommands
                .Where(x => x.ExecuteTime < dueBefore)
                .OrderBy(x => x.ExecuteTime).ThenBy(x => x.Id)
                .ToListAsync(cancellationToken)
                .ConfigureAwait(false);

            foreach (var row in due)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    await action(new ScheduledCommand { CommandName = row.CommandName, Data = row.Data, ExecuteTime = row.ExecuteTime }).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // One failing command must not stop the others; it stays scheduled.
                catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
                {
                    LogCommandFailed(ex, row.CommandName, row.Data);
                    continue;
                }

                await db.ScheduledCommands.Where(x => x.Id == row.Id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // ---- IPersistenceProvider -----------------------------------------------------------------

    /// <summary>Stores execution errors (appended; never changed).</summary>
    /// <param name="errors">The errors; may be empty.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task PersistErrors(IEnumerable<ExecutionError> errors, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var rows = errors.Select(e => new ExecutionErrorRow
        {
            WorkflowId = e.WorkflowId,
            ExecutionPointerId = e.ExecutionPointerId,
            ErrorTime = UtcTime.ToUtc(e.ErrorTime),
            Message = e.Message,
        }).ToList();
        if (rows.Count == 0)
        {
            return;
        }

        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            db.ExecutionErrors.AddRange(rows);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The execution errors stored for an instance, oldest first (not part of WorkflowCore's interface).</summary>
    /// <param name="workflowId">Instance id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The errors; times are UTC.</returns>
    public async Task<IReadOnlyList<ExecutionError>> GetErrors(string workflowId, CancellationToken cancellationToken = default)
    {
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var rows = await db.ExecutionErrors.Where(x => x.WorkflowId == workflowId).OrderBy(x => x.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
            return rows.Select(r => new ExecutionError
            {
                WorkflowId = r.WorkflowId,
                ExecutionPointerId = r.ExecutionPointerId,
                ErrorTime = r.ErrorTime,
                Message = r.Message,
            }).ToList();
        }
    }

    // ---- mapping ------------------------------------------------------------------------------

    private async Task SetEventProcessed(string id, bool processed, CancellationToken cancellationToken)
    {
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            await db.Events.Where(x => x.Id == id)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.IsProcessed, processed), cancellationToken)
                .ConfigureAwait(false);
        }
    }

    private static void CopyToRow(WorkflowInstance workflow, WorkflowInstanceRow row)
    {
        row.WorkflowDefinitionId = workflow.WorkflowDefinitionId ?? string.Empty;
        row.Version = workflow.Version;
        row.Description = workflow.Description;
        row.Reference = workflow.Reference;
        row.NextExecution = workflow.NextExecution;
        row.Status = workflow.Status;
        row.Data = StoredObjectCodec.Encode(workflow.Data);
        row.CreateTime = UtcTime.ToUtc(workflow.CreateTime);
        row.CompleteTime = UtcTime.ToUtc(workflow.CompleteTime);

        var existing = row.ExecutionPointers.ToDictionary(p => p.Id, StringComparer.Ordinal);
        var nextOrdinal = row.ExecutionPointers.Count == 0 ? 0 : row.ExecutionPointers.Max(p => p.Ordinal) + 1;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pointer in workflow.ExecutionPointers)
        {
            if (!existing.TryGetValue(pointer.Id, out var pointerRow))
            {
                pointerRow = new ExecutionPointerRow { InstanceId = row.Id, Id = pointer.Id, Ordinal = nextOrdinal++ };
                row.ExecutionPointers.Add(pointerRow);
            }

            seen.Add(pointer.Id);
            CopyToRow(pointer, pointerRow);
        }

        row.ExecutionPointers.RemoveAll(p => !seen.Contains(p.Id));
    }

    private static void CopyToRow(ExecutionPointer pointer, ExecutionPointerRow row)
    {
        row.StepId = pointer.StepId;
        row.StepName = pointer.StepName;
        row.Active = pointer.Active;
        row.Status = pointer.Status;
        row.SleepUntil = UtcTime.ToUtc(pointer.SleepUntil);
        row.PersistenceData = StoredObjectCodec.Encode(pointer.PersistenceData);
        row.StartTime = UtcTime.ToUtc(pointer.StartTime);
        row.EndTime = UtcTime.ToUtc(pointer.EndTime);
        row.EventName = pointer.EventName;
        row.EventKey = pointer.EventKey;
        row.EventPublished = pointer.EventPublished;
        row.EventData = StoredObjectCodec.Encode(pointer.EventData);
        row.ExtensionAttributes = pointer.ExtensionAttributes is { Count: > 0 } attributes ? StoredObjectCodec.EncodeMap(attributes) : null;
        row.RetryCount = pointer.RetryCount;
        row.Children = pointer.Children is { Count: > 0 } children ? JsonSerializer.Serialize(children, ListJson) : null;
        row.ContextItem = StoredObjectCodec.Encode(pointer.ContextItem);
        row.PredecessorId = pointer.PredecessorId;
        row.Outcome = StoredObjectCodec.Encode(pointer.Outcome);
        row.Scope = pointer.Scope is { Count: > 0 } scope ? JsonSerializer.Serialize(scope, ListJson) : null;
    }

    private static WorkflowInstance ToModel(WorkflowInstanceRow row)
    {
        var pointers = row.ExecutionPointers.OrderBy(p => p.Ordinal).ToList();
        var instance = new WorkflowInstance
        {
            Id = row.Id,
            WorkflowDefinitionId = row.WorkflowDefinitionId,
            Version = row.Version,
            Description = row.Description,
            Reference = row.Reference,
            NextExecution = row.NextExecution,
            Status = row.Status,
            Data = StoredObjectCodec.Decode(row.Data),
            CreateTime = row.CreateTime,
            CompleteTime = row.CompleteTime,
            ExecutionPointers = new ExecutionPointerCollection(pointers.Count + 8),
        };

        foreach (var p in pointers)
        {
            instance.ExecutionPointers.Add(new ExecutionPointer
            {
                Id = p.Id,
                StepId = p.StepId,
                StepName = p.StepName,
                Active = p.Active,
                Status = p.Status,
                SleepUntil = p.SleepUntil,
                PersistenceData = StoredObjectCodec.Decode(p.PersistenceData),
                StartTime = p.StartTime,
                EndTime = p.EndTime,
                EventName = p.EventName,
                EventKey = p.EventKey,
                EventPublished = p.EventPublished,
                EventData = StoredObjectCodec.Decode(p.EventData),
                ExtensionAttributes = StoredObjectCodec.DecodeMap(p.ExtensionAttributes),
                RetryCount = p.RetryCount,
                Children = DecodeList(p.Children),
                ContextItem = StoredObjectCodec.Decode(p.ContextItem),
                PredecessorId = p.PredecessorId,
                Outcome = StoredObjectCodec.Decode(p.Outcome),
                Scope = DecodeList(p.Scope),
            });
        }

        return instance;
    }

    private static List<string> DecodeList(string? stored)
    {
        if (string.IsNullOrEmpty(stored))
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize<List<string>>(stored, ListJson) ?? [];
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException("A stored pointer list is not a JSON array of strings.", ex);
        }
    }

    private static EventSubscriptionRow NewSubscriptionRow(EventSubscription subscription)
    {
        subscription.Id = Guid.NewGuid().ToString();
        return new EventSubscriptionRow
        {
            Id = subscription.Id,
            WorkflowId = subscription.WorkflowId,
            StepId = subscription.StepId,
            ExecutionPointerId = subscription.ExecutionPointerId,
            EventName = subscription.EventName,
            EventKey = subscription.EventKey,
            SubscribeAsOf = UtcTime.ToUtc(subscription.SubscribeAsOf),
            SubscriptionData = StoredObjectCodec.Encode(subscription.SubscriptionData),
            ExternalToken = subscription.ExternalToken,
            ExternalWorkerId = subscription.ExternalWorkerId,
            ExternalTokenExpiry = UtcTime.ToUtc(subscription.ExternalTokenExpiry),
        };
    }

    private static EventSubscription ToModel(EventSubscriptionRow row) => new()
    {
        Id = row.Id,
        WorkflowId = row.WorkflowId,
        StepId = row.StepId,
        ExecutionPointerId = row.ExecutionPointerId,
        EventName = row.EventName,
        EventKey = row.EventKey,
        SubscribeAsOf = row.SubscribeAsOf,
        SubscriptionData = StoredObjectCodec.Decode(row.SubscriptionData),
        ExternalToken = row.ExternalToken,
        ExternalWorkerId = row.ExternalWorkerId,
        ExternalTokenExpiry = row.ExternalTokenExpiry,
    };

    [LoggerMessage(Level = LogLevel.Error, Message = "Scheduled command {CommandName} {Data} failed; it stays scheduled")]
    private partial void LogCommandFailed(Exception exception, string commandName, string data);
}
