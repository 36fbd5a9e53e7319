using JailWorkflows.Engine.Activities;
using JailWorkflows.Engine.Definitions;
using JailWorkflows.Engine.Store;
using JailWorkflows.Hosts;
using JailWorkflows.Plans;
using JailWorkflows.Shell;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WorkflowCore.Interface;
using WorkflowCore.Models;

namespace JailWorkflows.Engine;

/// <summary>
/// The JailWorkflows engine: a WorkflowCore host on the SQLite store (DESIGN.md D1, D7), with every workflow
/// definition registered (the files in the workflows directory and every version pinned by an instance in
/// the store). One engine per database file: a second one refuses (<see cref="EngineLockedException"/>).
/// Instances that were interrupted (engine killed) continue as soon as it starts.
/// </summary>
public sealed partial class JailwfEngine : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly EngineLock _lock;
    private readonly ILogger<JailwfEngine> _logger;
    private bool _stopped;
    private bool _hostStarted;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Id, int Version), WorkflowDocument> _definitions;
    private readonly SemaphoreSlim _definitionWrites = new(1, 1);

    private JailwfEngine(ServiceProvider services, EngineLock engineLock, IReadOnlyDictionary<(string Id, int Version), WorkflowDocument> definitions)
    {
        _services = services;
        _lock = engineLock;
        _definitions = new(definitions);
        _logger = services.GetRequiredService<ILogger<JailwfEngine>>();
    }

    /// <summary>Every registered definition, by id and version (a live view: <see cref="AddDefinitionVersionAsync"/> adds to it).</summary>
    public IReadOnlyDictionary<(string Id, int Version), WorkflowDocument> Definitions => _definitions;

    /// <summary>
    /// Stores a definition as the next version of its id (the newest registered version plus one, 1 for a new id) and
    /// registers it with the running engine, so new instances can use it at once; every later start registers it again
    /// from the store. A stored version never changes. The version in <paramref name="json"/> is replaced by the one given.
    /// Serialized: two saves of one id never get the same version.
    /// </summary>
    /// <param name="json">The definition's JSON text (its <c>version</c> is set here).</param>
    /// <param name="expectedLatest">When given, refuse unless the newest version of the id is this one (0: the id must be new).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The stored definition with its version.</returns>
    /// <exception cref="DefinitionValidationException">The definition is invalid; nothing was stored.</exception>
    /// <exception cref="DefinitionVersionConflictException">The newest version is not <paramref name="expectedLatest"/>; nothing was stored.</exception>
    public async Task<WorkflowDocument> AddDefinitionVersionAsync(string json, int? expectedLatest = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(json);
        var parsed = DefinitionLoader.Parse(json, "the new definition");
        await _definitionWrites.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var latest = _definitions.Keys.Where(k => k.Id == parsed.Id).Select(k => k.Version).DefaultIfEmpty(0).Max();
            if (expectedLatest is { } expected && expected != latest)
            {
                throw new DefinitionVersionConflictException(parsed.Id, expected, latest);
            }

            var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
            node["version"] = latest + 1;
            var text = node.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
            var document = DefinitionLoader.Parse(text, $"{parsed.Id} v{latest + 1}");
            await DefinitionStore.AddAsync(document.Id, document.Version, document.Json, cancellationToken).ConfigureAwait(false);
            _services.GetRequiredService<IWorkflowRegistry>().RegisterWorkflow(DefinitionCompiler.Compile(document));
            _definitions[(document.Id, document.Version)] = document;
            LogDefinitionAdded(_logger, document.Id, document.Version);
            return document;
        }
        finally
        {
            _definitionWrites.Release();
        }
    }

    /// <summary>The WorkflowCore host.</summary>
    public IWorkflowHost Host => _services.GetRequiredService<IWorkflowHost>();

    /// <summary>The journal.</summary>
    public Journal Journal => _services.GetRequiredService<Journal>();

    /// <summary>The stored definition versions (what each version was registered with, and when).</summary>
    public DefinitionVersionStore DefinitionStore => _services.GetRequiredService<DefinitionVersionStore>();

    /// <summary>Read access to instances in the store.</summary>
    public InstanceQueries Queries => _services.GetRequiredService<InstanceQueries>();

    /// <summary>
    /// Validates the options, takes the database lock, applies migrations, loads and registers the
    /// definitions, and starts the WorkflowCore host.
    /// </summary>
    /// <param name="options">Engine options.</param>
    /// <param name="configureLogging">Logging setup (default: warnings to the console's standard error).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The running engine; dispose it to stop.</returns>
    /// <exception cref="System.ComponentModel.DataAnnotations.ValidationException">An option is invalid.</exception>
    /// <exception cref="EngineLockedException">Another engine holds the database.</exception>
    /// <exception cref="DefinitionValidationException">A definition file is invalid or a pinned version was changed.</exception>
    public static async Task<JailwfEngine> StartAsync(EngineOptions options, Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var engineLock = EngineLock.Acquire(options.DatabasePath, TimeProvider.System);
        try
        {
            var services = new ServiceCollection();
            services.AddLogging(configureLogging ?? (b => b.SetMinimumLevel(LogLevel.Warning)));
            services.AddSingleton(TimeProvider.System);
            services.AddSingleton(options);
            services.AddJailwfStore(options.DatabasePath);
            services.AddSingleton<HostConnections>();
            services.AddSingleton<ActivityServices>();
            services.AddSingleton<InstanceQueries>();
            services.AddSingleton<EngineHandle>();
            foreach (var activity in ActivityCatalog.All.Values)
            {
                services.AddTransient(activity.BodyType);
            }

            services.AddWorkflow(o =>
            {
                o.UsePersistence(sp => sp.GetRequiredService<SqlitePersistenceProvider>());
                WorkQueue.Use(o);
                o.UsePollInterval(options.StorePollInterval);
                o.UseIdleTime(TimeSpan.FromMilliseconds(50));
            });
            var provider = services.BuildServiceProvider();
            await ClearStaleMigrationLockAsync(provider, cancellationToken).ConfigureAwait(false);
            provider.GetRequiredService<IPersistenceProvider>().EnsureStoreExists();

            var definitions = await RegisterDefinitionsAsync(provider, options, cancellationToken).ConfigureAwait(false);
            var engine = new JailwfEngine(provider, engineLock, definitions);
            provider.GetRequiredService<EngineHandle>().Engine = engine;
            if (options.RunInstances)
            {
                await WakeInterruptedAsync(provider, cancellationToken).ConfigureAwait(false);
                await engine.Host.StartAsync(cancellationToken).ConfigureAwait(false);
                engine._hostStarted = true;
            }
            return engine;
        }
        catch
        {
            engineLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Ends (terminates) unfinished instances without running them: under the database lock, with no workflow
    /// host started, so none of their steps runs again. Each is journaled as an operator action with the reason.
    /// For <c>jailwf demo</c>, which rebuilds the lab and so makes instances of an interrupted earlier demo meaningless.
    /// </summary>
    /// <param name="options">Engine options (the database).</param>
    /// <param name="which">Which unfinished (Runnable or Suspended) instances to end.</param>
    /// <param name="reason">The reason, journaled.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The ids of the ended instances.</returns>
    /// <exception cref="EngineLockedException">Another engine holds the database.</exception>
    public static async Task<IReadOnlyList<string>> EndUnfinishedAsync(EngineOptions options, Func<InstanceView, bool> which, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(which);
        if (!File.Exists(options.DatabasePath))
        {
            return [];
        }

        using var engineLock = EngineLock.Acquire(options.DatabasePath, TimeProvider.System);
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddSingleton(TimeProvider.System);
        services.AddJailwfStore(options.DatabasePath);
        services.AddSingleton<InstanceQueries>();
        await using var provider = services.BuildServiceProvider();
        await ClearStaleMigrationLockAsync(provider, cancellationToken).ConfigureAwait(false);
        var store = provider.GetRequiredService<SqlitePersistenceProvider>();
        store.EnsureStoreExists();
        var queries = provider.GetRequiredService<InstanceQueries>();
        var journal = provider.GetRequiredService<Journal>();
        var ended = new List<string>();
        foreach (var view in await queries.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (view.Status is not (WorkflowStatus.Runnable or WorkflowStatus.Suspended) || !which(view))
            {
                continue;
            }

            var instance = await store.GetWorkflowInstance(view.Id, cancellationToken).ConfigureAwait(false)
                ?? throw new KeyNotFoundException($"No workflow instance '{view.Id}'.");
            instance.Status = WorkflowStatus.Terminated;
            instance.CompleteTime = TimeProvider.System.GetUtcNow().UtcDateTime;
            instance.NextExecution = null;
            await store.PersistWorkflow(instance, cancellationToken).ConfigureAwait(false);
            await journal.AppendAsync(new JournalEntry { InstanceId = view.Id, Kind = JournalEntryKind.OperatorAction, Message = "ended: " + reason }, cancellationToken).ConfigureAwait(false);
            ended.Add(view.Id);
        }

        return ended;
    }

    /// <summary>Starts a consolidation instance for one server of a plan, pinned to the definition's newest (or the given) version.</summary>
    /// <param name="definitionId">Definition id (e.g. <c>consolidate-server</c>).</param>
    /// <param name="plan">The validated plan.</param>
    /// <param name="server">The server's name in the plan; empty for a jail host definition (<see cref="DefinitionScope.JailHost"/>).</param>
    /// <param name="version">A definition version, or null for the newest.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The new instance id.</returns>
    /// <exception cref="KeyNotFoundException">Unknown definition, version or server.</exception>
    /// <exception cref="ArgumentException">A server was named for a jail host definition, or none for a server definition.</exception>
    /// <exception cref="InstanceConflictException">An unfinished instance already works on that jail (or, for a jail host definition, an unfinished instance of it on that jail host).</exception>
    public async Task<string> StartInstanceAsync(string definitionId, Plan plan, string server, int? version = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var document = Resolve(definitionId, version);
        return (await StartOneAsync(document, plan, server, origin: null, cancellationToken).ConfigureAwait(false)).Id;
    }

    /// <summary>
    /// Starts a run of a definition's newest version for a plan: one instance per server (<paramref name="servers"/>, default
    /// every server of the plan) for a server definition, one for the jail host for a jail host definition
    /// (<see cref="WorkflowDocument.Scope"/>). With an <paramref name="origin"/> (a schedule's fire), the start is idempotent:
    /// an instance already started with that origin for a server (or the jail host) is returned, not started again, so a
    /// start repeated after a crash never makes a second run.
    /// </summary>
    /// <param name="definitionId">Definition id.</param>
    /// <param name="plan">The validated plan.</param>
    /// <param name="servers">Servers of the plan (server definitions only); null or empty for every server.</param>
    /// <param name="origin">What started it (kept in <see cref="ConsolidationData.Origin"/>), or null for a person.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The instances, each with whether it was started now (false: found, started earlier with the same origin).</returns>
    /// <exception cref="KeyNotFoundException">Unknown definition or server.</exception>
    /// <exception cref="InstanceConflictException">An unfinished instance already works on a jail (or the jail host); instances started before it stay.</exception>
    public async Task<IReadOnlyList<(string Id, bool Started)>> StartRunAsync(string definitionId, Plan plan, IReadOnlyList<string>? servers = null, string? origin = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var document = Resolve(definitionId, version: null);
        IReadOnlyList<string> targets = document.Scope == DefinitionScope.JailHost
            ? [string.Empty]
            : servers is { Count: > 0 } ? servers : plan.Servers.Select(s => s.Name).ToList();
        var result = new List<(string, bool)>();
        foreach (var target in targets)
        {
            result.Add(await StartOneAsync(document, plan, target, origin, cancellationToken).ConfigureAwait(false));
        }

        return result;
    }

    /// <summary>
    /// The unfinished (runnable or suspended) instances of a definition whose plan has the same jail host as <paramref name="plan"/>
    /// (same SSH address and port, or both local): what a schedule's overlap policy looks at.
    /// </summary>
    /// <param name="definitionId">Definition id.</param>
    /// <param name="plan">The plan whose jail host is meant.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The instances, newest first.</returns>
    public async Task<IReadOnlyList<InstanceView>> ActiveOnJailHostAsync(string definitionId, Plan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var active = new List<InstanceView>();
        foreach (var view in await Queries.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (view.Definition == definitionId && view.Status is WorkflowStatus.Runnable or WorkflowStatus.Suspended
                && await Queries.GetAsync(view.Id, cancellationToken).ConfigureAwait(false) is { Data: ConsolidationData data }
                && JailHostKey(data.Plan) == JailHostKey(plan))
            {
                active.Add(view);
            }
        }

        return active;
    }

    /// <summary>The instances started with an origin (<see cref="ConsolidationData.Origin"/>, e.g. one fire of a schedule).</summary>
    /// <param name="origin">The origin.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>Their ids.</returns>
    public async Task<IReadOnlyList<string>> InstancesOfOriginAsync(string origin, CancellationToken cancellationToken = default)
    {
        var ids = new List<string>();
        foreach (var view in await Queries.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (await Queries.GetAsync(view.Id, cancellationToken).ConfigureAwait(false) is { Data: ConsolidationData { Origin: { } o } } && o == origin)
            {
                ids.Add(view.Id);
            }
        }

        return ids;
    }

    private WorkflowDocument Resolve(string definitionId, int? version)
    {
        var available = Definitions.Keys.Where(k => k.Id == definitionId).Select(k => k.Version).ToList();
        if (available.Count == 0)
        {
            throw new KeyNotFoundException($"Unknown workflow definition '{definitionId}' (known: {string.Join(", ", Definitions.Keys.Select(k => k.Id).Distinct().Order(StringComparer.Ordinal))}).");
        }

        var pinned = version ?? available.Max();
        if (!available.Contains(pinned))
        {
            throw new KeyNotFoundException($"Workflow definition '{definitionId}' has no version {pinned} (versions: {string.Join(", ", available.Order())}).");
        }

        return Definitions[(definitionId, pinned)];
    }

    private async Task<(string Id, bool Started)> StartOneAsync(WorkflowDocument document, Plan plan, string server, string? origin, CancellationToken cancellationToken)
    {
        var hostScoped = document.Scope == DefinitionScope.JailHost;
        if (hostScoped && server.Length > 0)
        {
            throw new ArgumentException($"Workflow definition '{document.Id}' works on the jail host ({plan.JailHost.Name}), not on a server: name no server.", nameof(server));
        }

        if (!hostScoped)
        {
            if (server.Length == 0)
            {
                throw new ArgumentException($"Workflow definition '{document.Id}' works on one server of the plan: name one.", nameof(server));
            }

            _ = plan.Server(server);
        }

        var what = hostScoped ? $"the jail host {plan.JailHost.Name}" : server;
        foreach (var other in await Queries.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (await Queries.GetAsync(other.Id, cancellationToken).ConfigureAwait(false) is not { Data: ConsolidationData data })
            {
                continue;
            }

            // The same fire of a schedule, started before a crash: it is this run.
            if (origin is not null && data.Origin == origin && data.Server == server && other.Definition == document.Id)
            {
                return (other.Id, false);
            }

            if (other.Status is not (WorkflowStatus.Runnable or WorkflowStatus.Suspended))
            {
                continue;
            }

            // One instance per jail: a second one would wipe the first one's jail root under its running restore.
            if (!hostScoped && data.Server.Length > 0 && SameJail(data.Plan, data.Server, plan, server))
            {
                var target = plan.Server(server);
                throw new InstanceConflictException(other.Id, $"Instance {other.Id} ({other.Status.ToString().ToLowerInvariant()}) is already working on {server} in jail {target.Jail.Name} on {plan.JailHost.Name}: resume it (jailwf resume {other.Id}) instead of starting another.");
            }

            if (hostScoped && data.Server.Length == 0 && other.Definition == document.Id && JailHostKey(data.Plan) == JailHostKey(plan))
            {
                throw new InstanceConflictException(other.Id, $"Instance {other.Id} ({other.Status.ToString().ToLowerInvariant()}) of {document.Id} is already working on the jail host {plan.JailHost.Name}: resume it (jailwf resume {other.Id}) instead of starting another.");
            }
        }

        var id = await Host.StartWorkflow(document.Id, document.Version, new ConsolidationData { Plan = plan, Server = server, Origin = origin }, reference: hostScoped ? plan.JailHost.Name : server).ConfigureAwait(false);
        await Journal.AppendAsync(new JournalEntry { InstanceId = id, Kind = JournalEntryKind.Info, Message = $"instance of {document.Id} v{document.Version} started for {what}{(origin is null ? string.Empty : $" ({origin})")}" }, cancellationToken).ConfigureAwait(false);
        return (id, true);
    }

    private static string JailHostKey(Plan plan) => plan.JailHost.Ssh is { } ssh ? $"{ssh.Address}:{ssh.Port}" : "local";

    /// <summary>The instances that are waiting to run or running (Runnable), e.g. those a killed engine left.</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>Their ids.</returns>
    public async Task<IReadOnlyList<string>> RunnableInstancesAsync(CancellationToken cancellationToken = default) =>
        (await Queries.ListAsync(cancellationToken).ConfigureAwait(false)).Where(v => v.Status == WorkflowStatus.Runnable).Select(v => v.Id).ToList();

    private static bool SameJail(Plan a, string serverA, Plan b, string serverB)
    {
        var jailA = a.Servers.FirstOrDefault(s => s.Name == serverA)?.Jail.Name;
        var jailB = b.Server(serverB).Jail.Name;
        return jailA == jailB && JailHostKey(a) == JailHostKey(b) && a.JailHost.JailsDir.TrimEnd('/') == b.JailHost.JailsDir.TrimEnd('/');
    }

    /// <summary>
    /// Continues an instance from its last checkpoint: a suspended one (an incident; closed as resumed, the step's attempts
    /// counted afresh) runs its failed step again; an interrupted one (runnable, left by an engine that stopped) needs
    /// nothing but a running engine, which continues it at once. Journaled as an operator action either way. When parallel
    /// branches failed each, the decision is about the oldest open incident, and the instance stays suspended until every
    /// one has a decision (<see cref="ResumeResult.SuspendedBy"/>).
    /// </summary>
    /// <param name="instanceId">The instance (full id).</param>
    /// <param name="reason">Why; null for none given.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>
    /// The step resumed and the incidents that still hold the instance suspended (none: it is runnable now); or, when it was
    /// runnable already, no step (<see cref="ResumeResult.WasRunnable"/>).
    /// </returns>
    /// <exception cref="KeyNotFoundException">Unknown instance.</exception>
    /// <exception cref="InstanceStateException">The instance is complete or aborted, or busy; nothing changed.</exception>
    public async Task<ResumeResult> ResumeAsync(string instanceId, string? reason = null, CancellationToken cancellationToken = default)
    {
        var instance = await LoadAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (instance.Status == WorkflowStatus.Runnable)
        {
            await Journal.AppendAsync(new JournalEntry { InstanceId = instanceId, Kind = JournalEntryKind.OperatorAction, Message = $"resumed by {Environment.UserName}{ReasonText(reason)}" }, cancellationToken).ConfigureAwait(false);
            return new ResumeResult(null);
        }

        if (instance.Status != WorkflowStatus.Suspended)
        {
            throw new InstanceStateException(instanceId, $"Instance {instanceId} is {Describe(instance.Status)}: there is nothing to resume.");
        }

        return new ResumeResult(await DecideAsync(instanceId, IncidentResolution.Resumed, reason, (_, _) => Task.FromResult<Action<ActivityState>>(ResetAttempts), cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Has the failed step of a suspended instance (its open incident) run again from its checkpoint, with its attempts
    /// counted afresh; closes the incident as retried and journals the operator action with the reason. When parallel
    /// branches failed each, the decision is about the oldest open incident, and the instance stays suspended until every
    /// one has a decision.
    /// </summary>
    /// <param name="instanceId">The instance (full id).</param>
    /// <param name="reason">Why (required).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The step that runs again (once no other open incident holds the instance suspended) and the incidents that still hold it (none: it is runnable now).</returns>
    /// <exception cref="ArgumentException">No reason given.</exception>
    /// <exception cref="KeyNotFoundException">Unknown instance.</exception>
    /// <exception cref="InstanceStateException">The instance has no incident (it runs, waits for an approval, or ended), or is busy; nothing changed.</exception>
    public async Task<DecisionResult> RetryAsync(string instanceId, string reason, CancellationToken cancellationToken = default)
    {
        RequireReason(reason);
        _ = await RequireIncidentAsync(instanceId, "retry", cancellationToken).ConfigureAwait(false);
        return await DecideAsync(instanceId, IncidentResolution.Retried, reason, (_, _) => Task.FromResult<Action<ActivityState>>(ResetAttempts), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Skips the failed step of a suspended instance (that of its oldest open incident): the step ends without running
    /// (journaled as skipped) and the next one runs. Refused when a later step (one after it in the definition's graph) needs what the failed one produces (<see cref="ActivityDescriptor.Needs"/>),
    /// unless <paramref name="force"/>. A host job the step still has running is killed first (its whole daemon(8) session,
    /// confirmed gone; <see cref="HostJobs.KillAsync"/>) unless another unfinished instance shares it, so the next step
    /// never runs beside it.
    /// </summary>
    /// <param name="instanceId">The instance (full id).</param>
    /// <param name="reason">Why (required).</param>
    /// <param name="force">Skip even when a later step needs the step's result.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The skipped step and the incidents that still hold the instance suspended (none: it is runnable now).</returns>
    /// <exception cref="ArgumentException">No reason given.</exception>
    /// <exception cref="KeyNotFoundException">Unknown instance.</exception>
    /// <exception cref="InstanceStateException">The instance has no incident, or a later step needs the step's result, or it is busy; nothing changed.</exception>
    /// <exception cref="HostCommandException">The step's host job could not be killed; nothing changed.</exception>
    /// <exception cref="HostUnreachableException">The jail host cannot be reached to kill the step's job; nothing changed.</exception>
    public async Task<DecisionResult> SkipAsync(string instanceId, string reason, bool force, CancellationToken cancellationToken = default)
    {
        RequireReason(reason);
        var snapshot = await RequireIncidentAsync(instanceId, "skip", cancellationToken).ConfigureAwait(false);
        var needing = NeededLater(snapshot, await FailedPointerAsync(snapshot, cancellationToken).ConfigureAwait(false));
        if (needing is { } need && !force)
        {
            throw new InstanceStateException(instanceId, $"Step {need.Failed} of instance {instanceId} is not skipped: the later step {need.Later} needs its {need.What}. Retry it, abort the instance, or skip with --force if you made that result by hand.");
        }

        return await DecideAsync(
            instanceId,
            IncidentResolution.Skipped,
            reason + (needing is { } n ? $" (forced although {n.LaterId} needs its {n.What})" : string.Empty),
            async (instance, pointer) =>
            {
                await KillJobAsync(instance, pointer, cancellationToken).ConfigureAwait(false);
                return state =>
                {
                    ResetAttempts(state);
                    state.Values[Activity.SkipKey] = reason.Trim();
                };
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Ends an unfinished instance (Terminated), under the instance's lock so none of its steps runs meanwhile: its
    /// running host job is killed first (SIGKILL to every process of the job's session, confirmed gone;
    /// <see cref="HostJobs.KillAsync"/>) unless another unfinished instance works on the same job (the shared world
    /// build); then the instance ends, its open incident is closed as aborted, and the operator action is journaled.
    /// The jail root and what was transferred are left as they are. When the kill fails, nothing changed: abort again.
    /// </summary>
    /// <param name="instanceId">The instance (full id).</param>
    /// <param name="reason">Why (required).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The host job that was killed (several, comma-separated, when parallel branches ran one each), or null when none ran
    /// (or it is shared and was left running).</returns>
    /// <exception cref="ArgumentException">No reason given.</exception>
    /// <exception cref="KeyNotFoundException">Unknown instance.</exception>
    /// <exception cref="InstanceStateException">The instance is complete or aborted already, or stayed busy for 30 s; nothing changed.</exception>
    /// <exception cref="HostCommandException">The job could not be killed (it is still alive); the instance was not ended.</exception>
    /// <exception cref="HostUnreachableException">The jail host cannot be reached to kill the job; the instance was not ended.</exception>
    public async Task<string?> AbortAsync(string instanceId, string reason, CancellationToken cancellationToken = default)
    {
        RequireReason(reason);
        string? killed = null;
        await UnderLockAsync(
            instanceId,
            async (store, instance) =>
            {
                if (instance.Status is not (WorkflowStatus.Runnable or WorkflowStatus.Suspended))
                {
                    throw new InstanceStateException(instanceId, $"Instance {instanceId} is {Describe(instance.Status)} already: there is nothing to abort.");
                }

                // Parallel branches may each run a host job.
                var jobs = new List<string>();
                foreach (var pointer in instance.ExecutionPointers.Where(p => p.Active && p.PersistenceData is ActivityState { JobId: not null }).ToList())
                {
                    if (await KillJobAsync(instance, pointer, cancellationToken).ConfigureAwait(false) is { } job)
                    {
                        jobs.Add(job);
                    }
                }

                killed = jobs.Count > 0 ? string.Join(", ", jobs) : null;
                await _services.GetRequiredService<Incidents>().CloseAsync(instanceId, null, IncidentResolution.Aborted, Environment.UserName, reason, cancellationToken).ConfigureAwait(false);
                instance.Status = WorkflowStatus.Terminated;
                instance.CompleteTime = _services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
                instance.NextExecution = null;
                await store.PersistWorkflow(instance, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
        return killed;
    }

    private static void RequireReason(string reason)
    {
        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new ArgumentException("A reason is required (--reason): it is written to the journal.", nameof(reason));
        }
    }

    private static string ReasonText(string? reason) => string.IsNullOrWhiteSpace(reason) ? " (no reason given)" : $" (reason: {reason.Trim()})";

    private static void ResetAttempts(ActivityState state)
    {
        state.Values.Remove(Activity.FailuresKey);
        state.Values.Remove(Activity.NotBeforeKey);
        state.Values.Remove(Activity.SkipKey);
    }

    private static string Describe(WorkflowStatus status) => status switch
    {
        WorkflowStatus.Complete => "complete",
        WorkflowStatus.Terminated => "aborted",
        WorkflowStatus.Suspended => "suspended with an incident",
        _ => "running",
    };

    /// <summary>
    /// The step a decision on a suspended instance is about: the failed step of its oldest open incident (parallel branches may
    /// have failed each), else a failed step, else an active one. Containers of parallel branches are no steps.
    /// </summary>
    private async Task<ExecutionPointer> FailedPointerAsync(WorkflowInstance instance, CancellationToken cancellationToken)
    {
        var document = Definitions.GetValueOrDefault((instance.WorkflowDefinitionId, instance.Version));
        var active = instance.ExecutionPointers.Where(p => p.Active && (document is null || p.StepId < document.Steps.Count)).ToList();
        var open = await _services.GetRequiredService<Incidents>().OpenOfAsync(instance.Id, cancellationToken).ConfigureAwait(false);
        return active.FirstOrDefault(p => p.Status == PointerStatus.Failed && open is not null && document is not null && document.Steps[p.StepId].Id == open.Step)
            ?? active.OrderByDescending(p => p.Status == PointerStatus.Failed).FirstOrDefault()
            ?? throw new InstanceStateException(instance.Id, $"Instance {instance.Id} is suspended but has no active step.");
    }

    /// <summary>The first later step (one that runs after it in the definition's graph) that needs what the pointer's step produces, or null.</summary>
    private (string Failed, string Later, string LaterId, string What)? NeededLater(WorkflowInstance instance, ExecutionPointer pointer)
    {
        var document = Definitions[(instance.WorkflowDefinitionId, instance.Version)];
        var failed = document.Steps[pointer.StepId];
        var produces = ActivityCatalog.All[failed.Activity].Produces;
        foreach (var later in document.StepsAfter(failed.Id))
        {
            var needs = ActivityCatalog.All[later.Activity].Needs.Intersect(produces, StringComparer.Ordinal).ToList();
            if (needs.Count > 0)
            {
                return ($"{failed.Id} ({failed.Activity})", $"{later.Id} ({later.Activity})", later.Id, string.Join(", ", needs));
            }
        }

        return null;
    }

    private async Task<WorkflowInstance> LoadAsync(string instanceId, CancellationToken cancellationToken) =>
        await Queries.GetAsync(instanceId, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"No workflow instance '{instanceId}'.");

    private async Task<WorkflowInstance> RequireIncidentAsync(string instanceId, string verb, CancellationToken cancellationToken)
    {
        var instance = await LoadAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (instance.Status != WorkflowStatus.Suspended)
        {
            var what = InstanceQueries.PendingApproval(instance) is not null ? "waits for an approval ('jailwf approve')" : Describe(instance.Status);
            throw new InstanceStateException(instanceId, $"Instance {instanceId} has no incident to {verb}: it {(what.StartsWith("waits", StringComparison.Ordinal) ? what : "is " + what)}.");
        }

        return instance;
    }

    /// <summary>
    /// Kills the host job of the pointer's checkpoint unless another unfinished instance works on it (journaled either way).
    /// </summary>
    /// <returns>The killed job, or null when there was none or it was left running.</returns>
    private async Task<string?> KillJobAsync(WorkflowInstance instance, ExecutionPointer? pointer, CancellationToken cancellationToken)
    {
        if (pointer?.PersistenceData is not ActivityState { JobId: { } jobId } || instance.Data is not ConsolidationData data)
        {
            return null;
        }

        var sharers = new List<string>();
        foreach (var other in await Queries.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (other.Id != instance.Id && other.Status is WorkflowStatus.Runnable or WorkflowStatus.Suspended
                && await Queries.GetAsync(other.Id, cancellationToken).ConfigureAwait(false) is { } o
                && o.ExecutionPointers.Any(p => p.Active && p.PersistenceData is ActivityState { JobId: { } j } && j == jobId))
            {
                sharers.Add(other.Id);
            }
        }

        if (sharers.Count > 0)
        {
            await Journal.AppendAsync(new JournalEntry { InstanceId = instance.Id, Kind = JournalEntryKind.Info, JobId = jobId, Message = $"host job {jobId} left running: instance(s) {string.Join(", ", sharers)} work on it too" }, cancellationToken).ConfigureAwait(false);
            return null;
        }

        var host = await _services.GetRequiredService<HostConnections>().GetJailHostAsync(data.Plan.JailHost, cancellationToken).ConfigureAwait(false);
        var state = await new HostJobs(host, data.Plan.JailHost.JobsDir).KillAsync(jobId, cancellationToken).ConfigureAwait(false);
        await Journal.AppendAsync(new JournalEntry { InstanceId = instance.Id, Kind = JournalEntryKind.Info, JobId = jobId, Message = $"host job {jobId} on {data.Plan.JailHost.Name} killed (session gone; {state.Status.ToString().ToLowerInvariant()})" }, cancellationToken).ConfigureAwait(false);
        return jobId;
    }

    /// <summary>Runs <paramref name="action"/> on the freshly read instance while holding its WorkflowCore lock (no step of it runs meanwhile).</summary>
    private async Task UnderLockAsync(string instanceId, Func<SqlitePersistenceProvider, WorkflowInstance, Task> action, CancellationToken cancellationToken)
    {
        var locks = _services.GetRequiredService<IDistributedLockProvider>();
        var store = _services.GetRequiredService<SqlitePersistenceProvider>();
        var time = _services.GetRequiredService<TimeProvider>();
        var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(30);
        while (!await locks.AcquireLock(instanceId, cancellationToken).ConfigureAwait(false))
        {
            // A step of the instance is running right now (it holds the instance's lock): steps are short, try again.
            if (time.GetUtcNow() > deadline)
            {
                throw new InstanceStateException(instanceId, $"Instance {instanceId} stayed busy for 30 s; nothing was changed; try again.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var instance = await store.GetWorkflowInstance(instanceId, cancellationToken).ConfigureAwait(false)
                ?? throw new KeyNotFoundException($"No workflow instance '{instanceId}'.");
            await action(store, instance).ConfigureAwait(false);
        }
        finally
        {
            await locks.ReleaseLock(instanceId).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Applies a decision to the suspended instance's failed step (that of its oldest open incident) under the instance's
    /// lock: <paramref name="prepare"/> may act first (kill the step's job) and returns the change to the step's checkpoint;
    /// the changed checkpoint and the instance's Runnable status are saved in one write, then the incident is closed and the
    /// decision journaled. A crash before that write leaves the instance suspended (decide again); after it, the decision
    /// holds (an incident a crash left open is decided again the same way). When another parallel branch's incident is still open, the instance stays suspended until that one is decided.
    /// </summary>
    private async Task<DecisionResult> DecideAsync(string instanceId, IncidentResolution resolution, string? reason, Func<WorkflowInstance, ExecutionPointer, Task<Action<ActivityState>>> prepare, CancellationToken cancellationToken)
    {
        var step = string.Empty;
        IReadOnlyList<HoldingIncident> waiting = [];
        await UnderLockAsync(
            instanceId,
            async (store, instance) =>
            {
                if (instance.Status != WorkflowStatus.Suspended)
                {
                    throw new InstanceStateException(instanceId, $"Instance {instanceId} is {Describe(instance.Status)} now; nothing was changed.");
                }

                var pointer = await FailedPointerAsync(instance, cancellationToken).ConfigureAwait(false);
                var change = await prepare(instance, pointer).ConfigureAwait(false);
                var state = (pointer.PersistenceData as ActivityState)?.Clone() ?? new ActivityState();
                change(state);
                step = Definitions.TryGetValue((instance.WorkflowDefinitionId, instance.Version), out var document) && pointer.StepId < document.Steps.Count
                    ? document.Steps[pointer.StepId].Id
                    : pointer.StepName ?? pointer.StepId.ToString(System.Globalization.CultureInfo.InvariantCulture);
                var incidents = _services.GetRequiredService<Incidents>();
                var now = _services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
                pointer.PersistenceData = state;
                pointer.SleepUntil = null;

                // A parallel branch that failed too waits for its own decision: the instance runs again once none is left.
                var failed = instance.ExecutionPointers
                    .Where(p => p != pointer && p.Active && p.Status == PointerStatus.Failed && document is not null && p.StepId < document.Steps.Count)
                    .Select(p => document!.Steps[p.StepId].Id).ToHashSet(StringComparer.Ordinal);
                var decided = step;
                waiting = (await incidents.AllOpenOfAsync(instanceId, cancellationToken).ConfigureAwait(false))
                    .Where(i => i.Step != decided && failed.Contains(i.Step))
                    .DistinctBy(i => i.Step, StringComparer.Ordinal)
                    .Select(i => new HoldingIncident(i.Id, i.Step))
                    .ToList();
                if (waiting.Count == 0)
                {
                    instance.Status = WorkflowStatus.Runnable;
                    instance.NextExecution = now.Ticks;
                }

                // The decision is in the checkpoint before the incident is closed: a crash between the two leaves the incident
                // open with the decision already taken, and deciding again does the same again (never a lost decision).
                await store.PersistWorkflow(instance, cancellationToken).ConfigureAwait(false);
                await incidents.CloseAsync(instanceId, step, resolution, Environment.UserName, reason, cancellationToken).ConfigureAwait(false);
                if (waiting.Count > 0)
                {
                    await Journal.AppendAsync(new JournalEntry { InstanceId = instanceId, Step = step, Kind = JournalEntryKind.Info, Message = $"the instance stays suspended until the incident of step {string.Join(", ", waiting.Select(w => w.Step))} has a decision too" }, cancellationToken).ConfigureAwait(false);
                }
            },
            cancellationToken).ConfigureAwait(false);

        if (_hostStarted && waiting.Count == 0)
        {
            await _services.GetRequiredService<IQueueProvider>().QueueWork(instanceId, QueueType.Workflow).ConfigureAwait(false);
        }

        return new DecisionResult(step, waiting);
    }

    /// <summary>
    /// Approves what an instance waits for (the files MergeEtc left for a person): journals the operator action with
    /// the reason, then publishes the WorkflowCore event the waiting step subscribed to, so the step runs again and
    /// the instance continues; returns once the step has taken it.
    /// </summary>
    /// <param name="instanceId">The instance (full id).</param>
    /// <param name="reason">Why it is approved (journaled and handed to the step); null or empty for none.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>What was approved.</returns>
    /// <exception cref="KeyNotFoundException">Unknown instance.</exception>
    /// <exception cref="NotAwaitingApprovalException">The instance does not wait for an approval.</exception>
    /// <exception cref="TimeoutException">The step did not take the published approval within <see cref="ApprovalHandOver"/> (it does when the engine runs next).</exception>
    public async Task<ApprovalRequest> ApproveAsync(string instanceId, string? reason, CancellationToken cancellationToken = default)
    {
        var instance = await Queries.GetAsync(instanceId, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"No workflow instance '{instanceId}'.");
        var request = InstanceQueries.PendingApproval(instance)
            ?? throw new NotAwaitingApprovalException(instanceId, instance.Status);
        var by = Environment.UserName;
        await Journal.AppendAsync(
            new JournalEntry
            {
                InstanceId = instanceId,
                Step = request.Step,
                Kind = JournalEntryKind.OperatorAction,
                Message = $"approved by {by}: {string.Join(", ", request.Files)}{(string.IsNullOrWhiteSpace(reason) ? " (no reason given)" : $" (reason: {reason.Trim()})")}",
            },
            cancellationToken).ConfigureAwait(false);
        var time = _services.GetRequiredService<TimeProvider>();
        await Host.PublishEvent(MergeEtc.ApprovalEvent, request.EventKey, reason?.Trim() ?? string.Empty, time.GetUtcNow().UtcDateTime).ConfigureAwait(false);

        // The event is handed to the waiting step by WorkflowCore's event consumer: return once it has been, so a
        // caller that reads the store next sees the instance going on, not still waiting.
        var deadline = time.GetUtcNow() + ApprovalHandOver;
        while (InstanceQueries.PendingApproval(await Queries.GetAsync(instanceId, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"No workflow instance '{instanceId}'.")) is not null)
        {
            if (time.GetUtcNow() > deadline)
            {
                throw new TimeoutException($"The approval of instance {instanceId} was published but not taken by its step within {ApprovalHandOver.TotalSeconds:0} s; it is taken when the engine runs next.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken).ConfigureAwait(false);
        }

        return request;
    }

    /// <summary>
    /// The differences an approval of <see cref="MergeEtc"/> is asked for: for each file left for a person, <c>diff -u -N</c>
    /// (diff(1)) on the jail host between the jail's current file (<c>a/&lt;path&gt;</c>) and the version mergemaster offered
    /// for it in its temproot under the jail's state directory (<c>b/&lt;path&gt;</c>); a file missing on one side counts as
    /// empty. A file that is (or lies below) a symbolic link inside the jail root is not read: its entry says so instead of
    /// a diff. Nothing is changed.
    /// </summary>
    /// <param name="instanceId">The instance (full id).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>One entry per file (empty for an approval that names no files, e.g. <see cref="RequestApproval"/>), or null when the instance waits for no approval.</returns>
    /// <exception cref="KeyNotFoundException">Unknown instance.</exception>
    /// <exception cref="HostCommandException">diff failed (exit status above 1).</exception>
    /// <exception cref="HostUnreachableException">The jail host cannot be reached.</exception>
    public async Task<IReadOnlyList<ApprovalFileDiff>?> ApprovalDiffsAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        var instance = await Queries.GetAsync(instanceId, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"No workflow instance '{instanceId}'.");
        if (InstanceQueries.PendingApproval(instance) is not { } request)
        {
            return null;
        }

        var pointer = instance.ExecutionPointers.First(p => p.Status == PointerStatus.WaitingForEvent && p.EventName == MergeEtc.ApprovalEvent && !p.EventPublished);
        if (request.Files.Count == 0 || instance.Data is not ConsolidationData { Server.Length: > 0 } data
            || pointer.PersistenceData is not ActivityState state || !state.Values.TryGetValue(MergeEtc.TempRootKey, out var tempRoot))
        {
            return [];
        }

        var spec = data.Plan.JailHost;
        var jailName = data.Plan.Server(data.Server).Jail.Name;
        var jailRoot = JailWorkflows.FreeBsd.JailRoot.Create(spec.JailsDir, jailName);
        var stateDir = JailWorkflows.FreeBsd.JailRoot.ValidateDirectory(spec.StateDir, "jailHost.stateDir") + "/jails/" + jailName;
        if (!tempRoot.StartsWith(stateDir + "/", StringComparison.Ordinal) || tempRoot.Split('/').Any(s => s is "." or ".."))
        {
            throw new InvalidOperationException($"The temproot '{tempRoot}' of instance {instanceId} is not under the jail's state directory {stateDir}.");
        }

        var host = await _services.GetRequiredService<HostConnections>().GetJailHostAsync(spec, cancellationToken).ConfigureAwait(false);
        var diffs = new List<ApprovalFileDiff>();
        foreach (var entry in request.Files)
        {
            // "etc/x (conflict markers)": the file is the part before the note.
            var path = entry.Split(" (", 2)[0].Trim('/');
            var current = jailRoot.Combine(path);
            var offered = tempRoot + current[jailRoot.Path.Length..];
            // The jail's tree came from a legacy server: a file (or a directory above it) that is a symbolic link could
            // point at the jail host's own files, so nothing is read through one.
            var guard = await host.RunAsync(jailRoot.RefuseSymlinks(path), null, cancellationToken).ConfigureAwait(false);
            if (!guard.Succeeded)
            {
                diffs.Add(new ApprovalFileDiff(path, $"{guard.StdOut.Trim()} {guard.StdErr.Trim()}".Trim() + "\n"));
                continue;
            }

            var diff = ShellCommand.Of("diff", "-u", "-N", "-L", "a/" + path, "-L", "b/" + path, current, offered);
            var result = await host.RunAsync(diff, null, cancellationToken).ConfigureAwait(false);
            if (result.ExitStatus is not (0 or 1))
            {
                throw new HostCommandException(spec.Name, diff, result);
            }

            diffs.Add(new ApprovalFileDiff(path, result.StdOut));
        }

        return diffs;
    }

    /// <summary>
    /// Starts running instances on an engine started with <see cref="EngineOptions.RunInstances"/> false (after an operator
    /// decision was taken with no step running): interrupted instances are woken and WorkflowCore's host starts. Does
    /// nothing when instances run already.
    /// </summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    public async Task RunInstancesAsync(CancellationToken cancellationToken = default)
    {
        if (_hostStarted)
        {
            return;
        }

        await WakeInterruptedAsync(_services, cancellationToken).ConfigureAwait(false);
        await Host.StartAsync(cancellationToken).ConfigureAwait(false);
        _hostStarted = true;
    }

    /// <summary>How long <see cref="ApproveAsync"/> waits for the waiting step to take the published approval: 60 s.</summary>
    public static TimeSpan ApprovalHandOver { get; } = TimeSpan.FromSeconds(60);

    /// <summary>Stops the host (running steps end at their next checkpoint; host jobs keep running) and releases the lock.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        try
        {
            if (_hostStarted)
            {
                await Host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            LogStopFailed(_logger, ex);
        }

        await _services.GetRequiredService<HostConnections>().DisposeAsync().ConfigureAwait(false);
        await _services.DisposeAsync().ConfigureAwait(false);
        _definitionWrites.Dispose();
        _lock.Dispose();
    }

    private static async Task<IReadOnlyDictionary<(string, int), WorkflowDocument>> RegisterDefinitionsAsync(ServiceProvider provider, EngineOptions options, CancellationToken cancellationToken)
    {
        var registry = provider.GetRequiredService<IWorkflowRegistry>();
        var factory = provider.GetRequiredService<IDbContextFactory<JailwfDbContext>>();
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var stored = await db.DefinitionVersions.AsNoTracking().ToListAsync(cancellationToken).ConfigureAwait(false);
        var result = new Dictionary<(string, int), WorkflowDocument>();

        // Versions pinned by instances come from the store: a changed file cannot change a running instance.
        foreach (var row in stored)
        {
            result[(row.DefinitionId, row.Version)] = DefinitionLoader.Parse(row.Json, $"{row.DefinitionId} v{row.Version} (stored)");
        }

        var files = Directory.Exists(options.WorkflowsDirectory) ? DefinitionLoader.LoadDirectory(options.WorkflowsDirectory) : [];
        foreach (var document in files)
        {
            if (result.TryGetValue((document.Id, document.Version), out var pinned))
            {
                if (pinned.Json != document.Json)
                {
                    throw new DefinitionValidationException(document.Id, [new DefinitionError("version", $"version {document.Version} of '{document.Id}' differs from the stored one that instances are pinned to; give the changed definition a new version")]);
                }

                continue;
            }

            db.DefinitionVersions.Add(new DefinitionVersion { DefinitionId = document.Id, Version = document.Version, Json = document.Json, RegisteredAt = provider.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime });
            result[(document.Id, document.Version)] = document;
        }

        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        foreach (var document in result.Values)
        {
            registry.RegisterWorkflow(DefinitionCompiler.Compile(document));
        }

        return result;
    }

    /// <summary>
    /// Instances left runnable by an engine that stopped (killed, host rebooted) continue at once: a step that was
    /// sleeping between two polls of its host job is woken, so the first poll of the store (right at start) runs it,
    /// not the end of its poll interval. Steps waiting for an approval stay waiting; a retry backoff is kept by the
    /// activity base, which sleeps again until its time.
    /// </summary>
    private static async Task WakeInterruptedAsync(ServiceProvider provider, CancellationToken cancellationToken)
    {
        var store = provider.GetRequiredService<SqlitePersistenceProvider>();
        var journal = provider.GetRequiredService<Journal>();
        var time = provider.GetRequiredService<TimeProvider>();
        var factory = provider.GetRequiredService<IDbContextFactory<JailwfDbContext>>();
        List<string> ids;
        await using (var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            ids = await db.WorkflowInstances.AsNoTracking().Where(w => w.Status == WorkflowStatus.Runnable).Select(w => w.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        }

        var now = time.GetUtcNow().UtcDateTime;
        foreach (var instance in await store.GetWorkflowInstances(ids, cancellationToken).ConfigureAwait(false))
        {
            var woken = instance.ExecutionPointers
                .Where(p => p.Active && p.Status != PointerStatus.WaitingForEvent && p.SleepUntil is { } until && until > now)
                .ToList();
            foreach (var pointer in woken)
            {
                pointer.SleepUntil = null;
            }

            if (woken.Count > 0 || instance.NextExecution is { } next && next > now.Ticks)
            {
                instance.NextExecution = now.Ticks;
                await store.PersistWorkflow(instance, cancellationToken).ConfigureAwait(false);
            }

            var definition = provider.GetRequiredService<IWorkflowRegistry>().GetDefinition(instance.WorkflowDefinitionId, instance.Version);
            var running = instance.ExecutionPointers
                .Where(p => p.Active && p.StartTime is not null && p.Status != PointerStatus.WaitingForEvent)
                .Where(p => definition?.Steps.FindById(p.StepId) is not { } step || DefinitionCompiler.IsActivityStep(step))
                .Select(p => p.StepName).ToList();
            if (running.Count > 0)
            {
                await journal.AppendAsync(new JournalEntry { InstanceId = instance.Id, Kind = JournalEntryKind.Info, Message = $"engine started: the interrupted step {string.Join(", ", running)} continues from its checkpoint" }, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// EF Core's SQLite migrator takes a lock row in <c>__EFMigrationsLock</c> while it runs; an engine killed in
    /// that moment leaves the row, and every later Migrate() would wait for it forever. This engine holds the
    /// database's <see cref="EngineLock"/>, so no other migrator can be running: a row found now is stale.
    /// </summary>
    private static async Task ClearStaleMigrationLockAsync(ServiceProvider provider, CancellationToken cancellationToken)
    {
        var factory = provider.GetRequiredService<IDbContextFactory<JailwfDbContext>>();
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var exists = await db.Database
            .SqlQueryRaw<int>("SELECT count(*) AS \"Value\" FROM sqlite_master WHERE type = 'table' AND name = '__EFMigrationsLock'")
            .SingleAsync(cancellationToken).ConfigureAwait(false);
        if (exists > 0)
        {
            await db.Database.ExecuteSqlRawAsync("DELETE FROM \"__EFMigrationsLock\"", cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Workflow definition {Id} v{Version} stored and registered")]
    private static partial void LogDefinitionAdded(ILogger logger, string id, int version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping the workflow host failed")]
    private static partial void LogStopFailed(ILogger logger, Exception exception);
}

/// <summary>The running engine, for activities that start instances (<see cref="UpgradeJails"/>); set once it is built.</summary>
internal sealed class EngineHandle
{
    public JailwfEngine? Engine { get; set; }
}

/// <summary><c>jailwf approve</c> was asked for an instance that waits for no approval.</summary>
public sealed class NotAwaitingApprovalException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="instanceId">The instance.</param>
    /// <param name="status">Its status.</param>
    public NotAwaitingApprovalException(string instanceId, WorkflowStatus status)
        : base($"Instance {instanceId} does not wait for an approval (it is {status.ToString().ToLowerInvariant()}; 'jailwf status {instanceId}' shows its steps).")
    {
        InstanceId = instanceId;
    }

    /// <summary>The instance.</summary>
    public string InstanceId { get; }
}

/// <summary>A new definition version was asked for on top of a version that is no longer the newest (someone saved meanwhile); nothing was stored.</summary>
public sealed class DefinitionVersionConflictException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="definitionId">The definition.</param>
    /// <param name="expected">The version the caller based its change on (0: none).</param>
    /// <param name="latest">The newest stored version (0: none).</param>
    public DefinitionVersionConflictException(string definitionId, int expected, int latest)
        : base(latest == 0
            ? $"Workflow definition '{definitionId}' has no version yet, not version {expected}: nothing was stored."
            : $"Workflow definition '{definitionId}' is at version {latest} now, not {expected} (saved meanwhile): nothing was stored; load version {latest} and save again.")
    {
        DefinitionId = definitionId;
        Latest = latest;
    }

    /// <summary>The definition.</summary>
    public string DefinitionId { get; }

    /// <summary>The newest stored version (0: none).</summary>
    public int Latest { get; }
}

/// <summary>An operator action does not fit the instance's state (e.g. retry on an instance without an incident); nothing was changed.</summary>
public sealed class InstanceStateException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="instanceId">The instance.</param>
    /// <param name="message">What is wrong and what to do instead.</param>
    public InstanceStateException(string instanceId, string message)
        : base(message) => InstanceId = instanceId;

    /// <summary>The instance.</summary>
    public string InstanceId { get; }
}
