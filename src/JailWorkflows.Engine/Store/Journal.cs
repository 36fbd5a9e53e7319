using Microsoft.EntityFrameworkCore;

namespace JailWorkflows.Engine.Store;

/// <summary>
/// The journal: an append-only record of what happened to each workflow instance (steps, host jobs and
/// their output lines, warnings, operator actions), in the <c>JournalEntries</c> table. UIs and the CLI
/// follow an instance by reading after the last id they saw. Thread-safe; register once (singleton).
/// </summary>
/// <param name="contexts">Creates the short-lived contexts.</param>
/// <param name="timeProvider">Supplies the timestamp of entries appended without one.</param>
public sealed class Journal(IDbContextFactory<JailwfDbContext> contexts, TimeProvider timeProvider)
{
    /// <summary>Appends one entry. Sets <see cref="JournalEntry.Timestamp"/> to now (UTC) when it is <c>default</c>, and <see cref="JournalEntry.Id"/> to the new row id.</summary>
    /// <param name="entry">The entry; its <see cref="JournalEntry.Id"/> must be 0.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="ArgumentException">The entry has no instance id or already has an id.</exception>
    public async Task AppendAsync(JournalEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Prepare(entry, timeProvider.GetUtcNow().UtcDateTime);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            db.JournalEntries.Add(entry);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Appends lines of a host job's output as <see cref="JournalEntryKind.JobOutput"/> entries, in order,
    /// in one transaction, all with the same timestamp (now, UTC).
    /// </summary>
    /// <param name="instanceId">The workflow instance.</param>
    /// <param name="step">The activity that runs the job, or null.</param>
    /// <param name="jobId">The host job.</param>
    /// <param name="lines">The output lines, without newlines; none appends nothing.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The appended entries with their ids.</returns>
    /// <exception cref="ArgumentException"><paramref name="instanceId"/> or <paramref name="jobId"/> is empty.</exception>
    public async Task<IReadOnlyList<JournalEntry>> AppendJobOutputAsync(string instanceId, string? step, string jobId, IEnumerable<string> lines, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentNullException.ThrowIfNull(lines);
        var now = timeProvider.GetUtcNow().UtcDateTime;
        var entries = lines.Select(line => new JournalEntry
        {
            InstanceId = instanceId,
            Step = step,
            JobId = jobId,
            Kind = JournalEntryKind.JobOutput,
            Message = line,
            Timestamp = now,
        }).ToList();
        if (entries.Count == 0)
        {
            return entries;
        }

        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            db.JournalEntries.AddRange(entries);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        return entries;
    }

    /// <summary>Reads an instance's entries with an id greater than <paramref name="afterId"/>, in append order.</summary>
    /// <param name="instanceId">The workflow instance.</param>
    /// <param name="afterId">The last id already seen; 0 to read from the start.</param>
    /// <param name="max">How many entries to return at most (at least 1).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>Up to <paramref name="max"/> entries; timestamps are UTC.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="max"/> is less than 1.</exception>
    public async Task<IReadOnlyList<JournalEntry>> ReadAsync(string instanceId, long afterId, int max, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.JournalEntries
                .AsNoTracking()
                .Where(x => x.InstanceId == instanceId && x.Id > afterId)
                .OrderBy(x => x.Id)
                .Take(max)
                .ToListAsync(cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>Whether an instance's journal holds an entry of <paramref name="kind"/> about host job <paramref name="jobId"/>.</summary>
    /// <param name="instanceId">The workflow instance.</param>
    /// <param name="jobId">The host job.</param>
    /// <param name="kind">The entry kind, e.g. <see cref="JournalEntryKind.JobStarted"/>.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>True when there is one.</returns>
    public async Task<bool> HasJobEntryAsync(string instanceId, string jobId, JournalEntryKind kind, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        ArgumentNullException.ThrowIfNull(jobId);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.JournalEntries
                .AsNoTracking()
                .AnyAsync(x => x.InstanceId == instanceId && x.JobId == jobId && x.Kind == kind, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    private static void Prepare(JournalEntry entry, DateTime now)
    {
        if (string.IsNullOrEmpty(entry.InstanceId))
        {
            throw new ArgumentException("A journal entry needs an instance id.", nameof(entry));
        }

        if (entry.Id != 0)
        {
            throw new ArgumentException("The journal entry was appended already (its id is set).", nameof(entry));
        }

        if (entry.Timestamp == default)
        {
            entry.Timestamp = now;
        }
    }
}
