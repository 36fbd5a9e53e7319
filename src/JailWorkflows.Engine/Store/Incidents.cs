using Microsoft.EntityFrameworkCore;

namespace JailWorkflows.Engine.Store;

/// <summary>
/// Opens and closes <see cref="Incident"/>s, each with its journal entry, in one transaction. At most one incident per
/// instance is open: opening a second one for the same step returns the open one (a step that failed again after a
/// crash, before its instance was suspended, raises no duplicate). Thread-safe; register once (singleton).
/// </summary>
/// <param name="contexts">Creates the short-lived contexts.</param>
/// <param name="timeProvider">The clock for opening and closing times.</param>
public sealed class Incidents(IDbContextFactory<JailwfDbContext> contexts, TimeProvider timeProvider)
{
    /// <summary>Lines of job output kept in <see cref="Incident.OutputTail"/>: 20.</summary>
    public const int TailLines = 20;

    /// <summary>
    /// Opens an incident for a step: when the instance has one open for the same step already (the step failed again after a
    /// crash cut off its suspension), that one is updated with the new error, attempts and output tail instead; one open for
    /// another step is closed as <see cref="IncidentResolution.Recovered"/> (that step has ended since). Sets <see cref="Incident.OpenedAt"/>, fills
    /// <see cref="Incident.OutputTail"/> from the step's newest job output lines in the journal when it is empty, and
    /// journals it (<see cref="JournalEntryKind.Incident"/>).
    /// </summary>
    /// <param name="incident">The new incident (id 0).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The open incident (the given one, or the one that was open already).</returns>
    public async Task<Incident> OpenAsync(Incident incident, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(incident);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var now = timeProvider.GetUtcNow().UtcDateTime;
            var open = await db.Incidents.AsTracking().FirstOrDefaultAsync(i => i.InstanceId == incident.InstanceId && i.ClosedAt == null, cancellationToken).ConfigureAwait(false);
            if (open is not null && open.Step == incident.Step)
            {
                // The same step failed again after a crash cut off its suspension: the incident shows the newest failure.
                open.Error = incident.Error;
                open.Attempts = incident.Attempts;
                open.OutputTail = incident.OutputTail.Length > 0 ? incident.OutputTail : await TailAsync(db, incident, cancellationToken).ConfigureAwait(false);
                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                return open;
            }

            if (open is not null)
            {
                // An earlier step's incident left open by a crash: that step has ended since.
                open.ClosedAt = now;
                open.Resolution = IncidentResolution.Recovered;
                open.ResolvedBy = "engine";
            }

            if (incident.OutputTail.Length == 0)
            {
                incident.OutputTail = await TailAsync(db, incident, cancellationToken).ConfigureAwait(false);
            }

            incident.OpenedAt = now;
            db.Incidents.Add(incident);
            db.JournalEntries.Add(new JournalEntry
            {
                InstanceId = incident.InstanceId,
                Step = incident.Step,
                Kind = JournalEntryKind.Incident,
                Message = $"incident on {incident.Host} after {incident.Attempts} attempt(s): {incident.Error}",
                Timestamp = now,
            });
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return incident;
        }
    }

    private static async Task<string> TailAsync(JailwfDbContext db, Incident incident, CancellationToken cancellationToken)
    {
        var lines = await db.JournalEntries.AsNoTracking()
            .Where(j => j.InstanceId == incident.InstanceId && j.Step == incident.Step && j.Kind == JournalEntryKind.JobOutput)
            .OrderByDescending(j => j.Id).Take(TailLines).Select(j => j.Message)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        lines.Reverse();
        return string.Join('\n', lines);
    }

    /// <summary>The instance's open incident, or null.</summary>
    /// <param name="instanceId">The instance.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The incident or null.</returns>
    public async Task<Incident?> OpenOfAsync(string instanceId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.Incidents.AsNoTracking().FirstOrDefaultAsync(i => i.InstanceId == instanceId && i.ClosedAt == null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every incident of an instance, oldest first.</summary>
    /// <param name="instanceId">The instance.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The incidents.</returns>
    public async Task<IReadOnlyList<Incident>> OfAsync(string instanceId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.Incidents.AsNoTracking().Where(i => i.InstanceId == instanceId).OrderBy(i => i.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Closes the instance's open incident, if any, and journals the decision as an <see cref="JournalEntryKind.OperatorAction"/>
    /// (or, for <see cref="IncidentResolution.Recovered"/>, as <see cref="JournalEntryKind.Info"/>) in the same transaction.
    /// The journal entry is written even when no incident was open (an operator action on an interrupted instance).
    /// </summary>
    /// <param name="instanceId">The instance.</param>
    /// <param name="step">The step the decision is about, or null.</param>
    /// <param name="resolution">The decision.</param>
    /// <param name="by">Who decided (user name).</param>
    /// <param name="reason">Why; null or empty for none given.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The closed incident, or null when none was open.</returns>
    public async Task<Incident?> CloseAsync(string instanceId, string? step, IncidentResolution resolution, string by, string? reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var now = timeProvider.GetUtcNow().UtcDateTime;
            var open = await db.Incidents.AsTracking().FirstOrDefaultAsync(i => i.InstanceId == instanceId && i.ClosedAt == null, cancellationToken).ConfigureAwait(false);
            if (open is not null)
            {
                open.ClosedAt = now;
                open.Resolution = resolution;
                open.ResolvedBy = by;
                open.Reason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
            }

            var verb = resolution.ToString().ToLowerInvariant();
            db.JournalEntries.Add(new JournalEntry
            {
                InstanceId = instanceId,
                Step = open?.Step ?? step,
                Kind = resolution == IncidentResolution.Recovered ? JournalEntryKind.Info : JournalEntryKind.OperatorAction,
                Message = resolution == IncidentResolution.Recovered
                    ? $"incident closed: the step succeeded when it ran again"
                    : $"{verb} by {by}{(string.IsNullOrWhiteSpace(reason) ? " (no reason given)" : $" (reason: {reason.Trim()})")}",
                Timestamp = now,
            });
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return open;
        }
    }
}
