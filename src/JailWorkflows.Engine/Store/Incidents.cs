using Microsoft.EntityFrameworkCore;

namespace JailWorkflows.Engine.Store;

/// <summary>
/// Opens and closes <see cref="Incident"/>s, each with its journal entry, in one transaction. At most one incident per
/// step of an instance is open: opening a second one for the same step returns the open one (a step that failed again after
/// a crash, before its instance was suspended, raises no duplicate). An instance runs one step at a time, so it has one open
/// incident; one with parallel branches may have one per failed branch. Thread-safe; register once (singleton).
/// </summary>
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
    public Task<Incident> OpenAsync(Incident incident, CancellationToken cancellationToken) => OpenAsync(incident, [], cancellationToken);

    /// <summary>
    /// Opens an incident for a step, as <see cref="OpenAsync(Incident, CancellationToken)"/>, except that the open incidents of
    /// the steps in <paramref name="failing"/> stay open: those steps are still failed (parallel branches of the instance that
    /// failed in the same pass), each waiting for its own decision.
    /// </summary>
    /// <param name="incident">The new incident (id 0).</param>
    /// <param name="failing">Other steps of the instance that are failed now (their incidents stay open).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The open incident of the step (the given one, or the one that was open already).</returns>
    public async Task<Incident> OpenAsync(Incident incident, IReadOnlyCollection<string> failing, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(incident);
        ArgumentNullException.ThrowIfNull(failing);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var now = timeProvider.GetUtcNow().UtcDateTime;
            var opens = await db.Incidents.AsTracking().Where(i => i.InstanceId == incident.InstanceId && i.ClosedAt == null).OrderBy(i => i.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
            if (opens.FirstOrDefault(i => i.Step == incident.Step) is { } open)
            {
                // The same step failed again after a crash cut off its suspension: the incident shows the newest failure.
                open.Error = incident.Error;
                open.Attempts = incident.Attempts;
                open.OutputTail = incident.OutputTail.Length > 0 ? incident.OutputTail : await TailAsync(db, incident, cancellationToken).ConfigureAwait(false);
                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                return open;
            }

            foreach (var other in opens.Where(i => !failing.Contains(i.Step)))
            {
                // An earlier step's incident left open by a crash: that step has ended since.
                other.ClosedAt = now;
                other.Resolution = IncidentResolution.Recovered;
                other.ResolvedBy = "engine";
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

    /// <summary>The instance's open incident (the oldest, when parallel branches have one each), or null.</summary>
    /// <param name="instanceId">The instance.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The incident or null.</returns>
    public async Task<Incident?> OpenOfAsync(string instanceId, CancellationToken cancellationToken) =>
        (await AllOpenOfAsync(instanceId, cancellationToken).ConfigureAwait(false)).FirstOrDefault();

    /// <summary>The instance's open incidents, oldest first: one at most, or one per failed parallel branch.</summary>
    /// <param name="instanceId">The instance.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The incidents.</returns>
    public async Task<IReadOnlyList<Incident>> AllOpenOfAsync(string instanceId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.Incidents.AsNoTracking().Where(i => i.InstanceId == instanceId && i.ClosedAt == null).OrderBy(i => i.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
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
    /// Closes the instance's open incident of <paramref name="step"/> (every open incident when it is null), if any, and journals the decision as an <see cref="JournalEntryKind.OperatorAction"/>
    /// (or, for <see cref="IncidentResolution.Recovered"/>, as <see cref="JournalEntryKind.Info"/>) in the same transaction.
    /// The journal entry is written even when no incident was open (an operator action on an interrupted instance).
    /// </summary>
    /// <param name="instanceId">The instance.</param>
    /// <param name="step">The step the decision is about, or null for the whole instance (every open incident is closed).</param>
    /// <param name="resolution">The decision.</param>
    /// <param name="by">Who decided (user name).</param>
    /// <param name="reason">Why; null or empty for none given.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The closed incident (the oldest, when several were), or null when none was open.</returns>
    public async Task<Incident?> CloseAsync(string instanceId, string? step, IncidentResolution resolution, string by, string? reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var now = timeProvider.GetUtcNow().UtcDateTime;
            var opens = await db.Incidents.AsTracking().Where(i => i.InstanceId == instanceId && i.ClosedAt == null && (step == null || i.Step == step)).OrderBy(i => i.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
            foreach (var closed in opens)
            {
                closed.ClosedAt = now;
                closed.Resolution = resolution;
                closed.ResolvedBy = by;
                closed.Reason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
            }

            var open = opens.FirstOrDefault();

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
