using JailWorkflows.Engine.Activities;
using JailWorkflows.Engine.Definitions;
using JailWorkflows.Engine.Store;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using WorkflowCore.Models;

namespace JailWorkflows.Engine;

/// <summary>The state of one step of an instance, as people see it.</summary>
public enum StepState
{
    /// <summary>Not reached yet.</summary>
    Waiting,

    /// <summary>Running (or waiting for its host job).</summary>
    Running,

    /// <summary>Finished.</summary>
    Done,

    /// <summary>Failed; the instance is suspended (an incident).</summary>
    Failed,

    /// <summary>Waits for a person's approval (<c>jailwf approve</c>); see <see cref="InstanceView.Approval"/>.</summary>
    AwaitingApproval,

    /// <summary>Skipped by an operator (<c>jailwf skip</c>): it ended without doing its work.</summary>
    Skipped,
}

/// <summary>Where an instance is, as people see it (<c>jailwf list</c>).</summary>
public enum InstanceState
{
    /// <summary>An engine runs it (a step runs or waits for its host job or its next attempt).</summary>
    Running,

    /// <summary>Runnable, a step began and has not ended, and no engine holds the database: the engine stopped (killed, host
    /// rebooted). The next engine to start continues it at once (<c>jailwf resume</c>).</summary>
    Interrupted,

    /// <summary>A step failed for good; the instance waits for a decision (<c>jailwf retry|skip|abort|resume</c>); see <see cref="InstanceView.Incident"/>.</summary>
    Incident,

    /// <summary>Waits for a person's approval (<c>jailwf approve</c>); see <see cref="InstanceView.Approval"/>.</summary>
    AwaitingApproval,

    /// <summary>Every step ended.</summary>
    Complete,

    /// <summary>Ended by an operator (<c>jailwf abort</c>) before its end.</summary>
    Aborted,
}

/// <summary>The differences of one file an approval is asked for (see <see cref="JailwfEngine.ApprovalDiffsAsync"/>).</summary>
/// <param name="Path">The file, relative to the jail root (e.g. <c>etc/group</c>).</param>
/// <param name="Diff">The unified diff (diff(1) <c>-u</c>) from the jail's version (<c>a/</c>) to the offered one (<c>b/</c>); empty when they are equal; a line naming the symbolic link instead when the jail's file is (or lies below) one.</param>
public sealed record ApprovalFileDiff(string Path, string Diff);

/// <summary>An approval an instance waits for.</summary>
/// <param name="Step">The waiting step's id.</param>
/// <param name="Files">Files the person is asked to look at (paths relative to the jail root, e.g. <c>etc/group</c>); empty for a
/// <see cref="RequestApproval"/> step (see <see cref="ApprovalRequest.Subject"/>).</param>
/// <param name="EventKey">The key of the WorkflowCore event that approves it.</param>
public sealed record ApprovalRequest(string Step, IReadOnlyList<string> Files, string EventKey)
{
    /// <summary>What is approved, as one line for people: the text a <see cref="RequestApproval"/> step asked with (e.g.
    /// "stop apache on ServerA and apply the level-1 delta of /, /usr, /var"), else the <see cref="Files"/>, comma-separated.</summary>
    public string Subject { get; init; } = string.Join(", ", Files);
}

/// <summary>One step of an instance.</summary>
/// <param name="Id">Step id from the definition.</param>
/// <param name="Title">Title.</param>
/// <param name="Activity">Activity name.</param>
/// <param name="State">State.</param>
/// <param name="Started">Start time (UTC), if started.</param>
/// <param name="Ended">End time (UTC), if ended.</param>
public sealed record StepView(string Id, string Title, string Activity, StepState State, DateTime? Started, DateTime? Ended)
{
    /// <summary>How the activity recovers after a crash (from <see cref="ActivityCatalog"/>).</summary>
    public RecoveryPolicy Recovery { get; init; }

    /// <summary>The step's retry policy (the definition's, or the activity's default).</summary>
    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;

    /// <summary>Failed attempts of the step's current run (0 when none failed).</summary>
    public int Failures { get; init; }

    /// <summary>The ids of the steps this one runs after (<see cref="Definitions.StepDocument.After"/>); empty for the first step.</summary>
    public IReadOnlyList<string> After { get; init; } = [];
}

/// <summary>An instance as the CLI and the server show it.</summary>
/// <param name="Id">Instance id.</param>
/// <param name="Definition">Definition id.</param>
/// <param name="Version">Pinned definition version.</param>
/// <param name="Server">The source server (instance reference).</param>
/// <param name="Status">WorkflowCore status (Runnable, Suspended, Complete, Terminated).</param>
/// <param name="Created">Creation time (UTC).</param>
/// <param name="Completed">Completion time (UTC), if complete.</param>
/// <param name="Steps">The steps in definition order (with parallel branches, several may run at once).</param>
/// <param name="LastError">The newest step failure message, if any.</param>
/// <param name="LastOutput">The newest host job output line, if any.</param>
public sealed record InstanceView(string Id, string Definition, int Version, string? Server, WorkflowStatus Status, DateTime Created, DateTime? Completed, IReadOnlyList<StepView> Steps, string? LastError, string? LastOutput)
{
    /// <summary>The step that failed, waits for an approval or runs now, if any (the first in definition order, when parallel branches have several).</summary>
    public StepView? Current => Steps.FirstOrDefault(s => s.State == StepState.Failed)
        ?? Steps.FirstOrDefault(s => s.State == StepState.AwaitingApproval)
        ?? Steps.FirstOrDefault(s => s.State == StepState.Running);

    /// <summary>The approval the instance waits for, or null.</summary>
    public ApprovalRequest? Approval { get; init; }

    /// <summary>The jails directory of the instance's plan (where its jail root is), or null when unknown.</summary>
    public string? JailsDir { get; init; }

    /// <summary>The open incident the instance waits on (a decision; the oldest, when parallel branches failed each), or null.</summary>
    public Incident? Incident { get; init; }

    /// <summary>Where the instance is (running, interrupted, incident, approval, complete, aborted).</summary>
    public InstanceState State { get; init; }
}

/// <summary>
/// Read-only queries over the store (instances, steps, journal); needs no running engine, so <c>jailwf list</c>,
/// <c>status</c> and <c>logs</c> work beside a running one (SQLite WAL readers do not block the writer).
/// </summary>
public sealed class InstanceQueries(SqlitePersistenceProvider store, IDbContextFactory<JailwfDbContext> contexts, Journal journal)
{
    private string? _databasePath;

    /// <summary>Opens read-only queries on a database file.</summary>
    /// <param name="databasePath">The SQLite file.</param>
    /// <returns>The queries and the service provider to dispose.</returns>
    /// <exception cref="FileNotFoundException">No database at that path.</exception>
    public static (InstanceQueries Queries, IAsyncDisposable Owner) Open(string databasePath)
    {
        if (!File.Exists(databasePath))
        {
            throw new FileNotFoundException($"No JailWorkflows database at {databasePath} (nothing has run yet, or use --db).", databasePath);
        }

        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddJailwfStore(databasePath);
        services.AddSingleton<InstanceQueries>();
        var provider = services.BuildServiceProvider();

        // Readers never migrate (that is the engine's job, under its lock): an older schema is reported instead.
        using (var db = provider.GetRequiredService<IDbContextFactory<JailwfDbContext>>().CreateDbContext())
        {
            if (db.Database.GetPendingMigrations().Any())
            {
                provider.Dispose();
                throw new InvalidOperationException($"The database {databasePath} has an older schema; 'jailwf resume' or 'jailwf run' upgrades it when the engine starts.");
            }
        }

        return (provider.GetRequiredService<InstanceQueries>(), provider);
    }

    /// <summary>Opens a watch on the store's commits (<see cref="StoreChanges"/>), for followers that re-read views only when something changed.</summary>
    /// <param name="time">The clock the watch's refresh is measured by; default the system clock.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The watch (dispose it).</returns>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">The database cannot be opened.</exception>
    public async Task<StoreChanges> WatchChangesAsync(TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        if (_databasePath is null)
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            _databasePath = db.Database.GetDbConnection().DataSource;
        }

        return await StoreChanges.OpenAsync(_databasePath, time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The raw WorkflowCore instance.</summary>
    /// <param name="id">Instance id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The instance, or null when unknown.</returns>
    public async Task<WorkflowInstance?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var found = await store.GetWorkflowInstances([id], cancellationToken).ConfigureAwait(false);
        return found.FirstOrDefault();
    }

    /// <summary>An instance with its steps.</summary>
    /// <param name="id">Instance id (or an unambiguous prefix of at least 8 characters).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The view, or null when unknown.</returns>
    public async Task<InstanceView?> ViewAsync(string id, CancellationToken cancellationToken = default)
    {
        var fullId = await ResolveIdAsync(id, cancellationToken).ConfigureAwait(false);
        if (fullId is null)
        {
            return null;
        }

        var instance = await GetAsync(fullId, cancellationToken).ConfigureAwait(false);
        return instance is null ? null : await ToViewAsync(instance, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every instance, newest first.</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The views.</returns>
    public async Task<IReadOnlyList<InstanceView>> ListAsync(CancellationToken cancellationToken = default)
    {
        List<string> ids;
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            ids = await db.WorkflowInstances.AsNoTracking().OrderByDescending(w => w.CreateTime).Select(w => w.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        }

        var views = new List<InstanceView>();
        foreach (var instance in await store.GetWorkflowInstances(ids, cancellationToken).ConfigureAwait(false))
        {
            views.Add(await ToViewAsync(instance, cancellationToken).ConfigureAwait(false));
        }

        return views.OrderByDescending(v => v.Created).ToList();
    }

    /// <summary>Journal entries of an instance after <paramref name="afterId"/>.</summary>
    /// <param name="instanceId">Instance id.</param>
    /// <param name="afterId">Only entries with a larger id (0 for all).</param>
    /// <param name="max">At most this many.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The entries, oldest first.</returns>
    public Task<IReadOnlyList<JournalEntry>> JournalAsync(string instanceId, long afterId, int max, CancellationToken cancellationToken = default) =>
        journal.ReadAsync(instanceId, afterId, max, cancellationToken);

    /// <summary>Resolves an instance id or an unambiguous prefix.</summary>
    /// <param name="idOrPrefix">Full id or a prefix of 8 or more characters.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The full id, or null when none matches.</returns>
    /// <exception cref="ArgumentException">The prefix matches several instances.</exception>
    public async Task<string?> ResolveIdAsync(string idOrPrefix, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(idOrPrefix);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        if (await db.WorkflowInstances.AnyAsync(w => w.Id == idOrPrefix, cancellationToken).ConfigureAwait(false))
        {
            return idOrPrefix;
        }

        if (idOrPrefix.Length < 8)
        {
            return null;
        }

        var matches = await db.WorkflowInstances.Where(w => w.Id.StartsWith(idOrPrefix)).Select(w => w.Id).Take(2).ToListAsync(cancellationToken).ConfigureAwait(false);
        return matches.Count switch
        {
            0 => null,
            1 => matches[0],
            _ => throw new ArgumentException($"'{idOrPrefix}' matches several instances; give more of the id.", nameof(idOrPrefix)),
        };
    }

    private async Task<InstanceView> ToViewAsync(WorkflowInstance instance, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var json = await db.DefinitionVersions.AsNoTracking()
            .Where(d => d.DefinitionId == instance.WorkflowDefinitionId && d.Version == instance.Version)
            .Select(d => d.Json).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        var document = json is null ? null : DefinitionLoader.Parse(json, instance.WorkflowDefinitionId);
        var steps = new List<StepView>();
        if (document is not null)
        {
            // Steps are WorkflowCore steps 0..n-1 (the containers of parallel branches come after them and are not shown).
            // A step beside a failed parallel branch is not failed itself: its host job may still run.
            var branchFailed = instance.ExecutionPointers.Any(p => p.Active && p.Status == PointerStatus.Failed && p.StepId < document.Steps.Count);
            for (var i = 0; i < document.Steps.Count; i++)
            {
                var pointer = instance.ExecutionPointers.Where(p => p.StepId == i).OrderByDescending(p => p.StartTime ?? DateTime.MinValue).FirstOrDefault();
                var state = pointer switch
                {
                    null => StepState.Waiting,
                    { Status: PointerStatus.Complete } => StepState.Done,
                    { Status: PointerStatus.Failed } => StepState.Failed,
                    { Status: PointerStatus.Pending } when instance.Status != WorkflowStatus.Suspended || branchFailed => StepState.Waiting,
                    { Status: PointerStatus.WaitingForEvent, EventName: MergeEtc.ApprovalEvent, EventPublished: false } when instance.Status == WorkflowStatus.Runnable => StepState.AwaitingApproval,
                    { Status: PointerStatus.WaitingForEvent } when branchFailed => StepState.AwaitingApproval,
                    _ when instance.Status == WorkflowStatus.Suspended && !branchFailed => StepState.Failed,
                    _ => StepState.Running,
                };
                var doc = document.Steps[i];
                var values = (pointer?.PersistenceData as ActivityState)?.Values;
                if (state == StepState.Done && values?.ContainsKey(Activity.SkipKey) == true)
                {
                    state = StepState.Skipped;
                }

                steps.Add(new StepView(doc.Id, doc.Title, doc.Activity, state, pointer?.StartTime, pointer?.EndTime)
                {
                    Recovery = ActivityCatalog.All.TryGetValue(doc.Activity, out var descriptor) ? descriptor.Recovery : RecoveryPolicy.AskOperator,
                    Retry = doc.Retry,
                    After = doc.After,
                    Failures = values?.TryGetValue(Activity.FailuresKey, out var f) == true && int.TryParse(f, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 0,
                });
            }
        }

        var lastError = await db.JournalEntries.AsNoTracking()
            .Where(j => j.InstanceId == instance.Id && j.Kind == JournalEntryKind.StepFailed)
            .OrderByDescending(j => j.Id).Select(j => j.Message).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        var lastOutput = await db.JournalEntries.AsNoTracking()
            .Where(j => j.InstanceId == instance.Id && j.Kind == JournalEntryKind.JobOutput)
            .OrderByDescending(j => j.Id).Select(j => j.Message).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        var server = instance.Reference ?? (instance.Data as ConsolidationData)?.Server;
        var incident = instance.Status == WorkflowStatus.Suspended
            ? await db.Incidents.AsNoTracking().Where(x => x.InstanceId == instance.Id && x.ClosedAt == null).OrderBy(x => x.Id).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false)
            : null;
        var approval = PendingApproval(instance);
        _databasePath ??= db.Database.GetDbConnection().DataSource;
        var instanceState = instance.Status switch
        {
            WorkflowStatus.Complete => InstanceState.Complete,
            WorkflowStatus.Terminated => InstanceState.Aborted,
            WorkflowStatus.Suspended => InstanceState.Incident,
            _ when approval is not null => InstanceState.AwaitingApproval,
            _ when instance.ExecutionPointers.Any(p => p.Active && p.StartTime is not null && p.Status != PointerStatus.WaitingForEvent && (document is null || p.StepId < document.Steps.Count))
                && EngineLock.LiveHolder(_databasePath) is null => InstanceState.Interrupted,
            _ => InstanceState.Running,
        };
        return new InstanceView(instance.Id, instance.WorkflowDefinitionId, instance.Version, server, instance.Status, instance.CreateTime, instance.CompleteTime, steps, instance.Status == WorkflowStatus.Complete ? null : lastError, lastOutput)
        {
            Approval = approval,
            JailsDir = (instance.Data as ConsolidationData)?.Plan.JailHost.JailsDir,
            Incident = incident,
            State = instanceState,
        };
    }

    /// <summary>The approval a runnable instance waits for: a step waiting for the <see cref="MergeEtc.ApprovalEvent"/> event not yet published.</summary>
    /// <param name="instance">The instance.</param>
    /// <returns>The request, or null when it waits for none.</returns>
    public static ApprovalRequest? PendingApproval(WorkflowInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (instance.Status != WorkflowStatus.Runnable)
        {
            return null;
        }

        var pointer = instance.ExecutionPointers.FirstOrDefault(p => p.Status == PointerStatus.WaitingForEvent && p.EventName == MergeEtc.ApprovalEvent && !p.EventPublished);
        if (pointer is null)
        {
            return null;
        }

        var values = (pointer.PersistenceData as ActivityState)?.Values;
        var files = values?.GetValueOrDefault(MergeEtc.ApprovalFilesKey, string.Empty)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries) ?? [];
        var key = pointer.EventKey ?? string.Empty;
        var colon = key.LastIndexOf(':');
        var request = new ApprovalRequest(colon >= 0 ? key[(colon + 1)..] : key, files, key);
        return values?.GetValueOrDefault(RequestApproval.SubjectKey) is { Length: > 0 } subject ? request with { Subject = subject } : request;
    }
}
