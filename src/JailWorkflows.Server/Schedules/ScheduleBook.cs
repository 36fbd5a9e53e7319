using System.Globalization;
using JailWorkflows.Engine.Activities;
using JailWorkflows.Plans;
using Quartz;

namespace JailWorkflows.Server.Schedules;

/// <summary>
/// The schedules (DESIGN.md D9): each is a Quartz job (group <see cref="Group"/>, durable, recovered after a crash, never
/// run twice at once) holding the definition, the plan's text and the policies, with one cron trigger in its time zone
/// whose misfire instruction is the misfire policy (fire-once: FireAndProceed; skip: DoNothing). A Quartz job only starts a
/// workflow instance (<see cref="ScheduledRuns"/>). Works on a started scheduler (serve) and on one that was not started
/// (the CLI without serve, under the engine's lock): changes go to the job store either way.
/// </summary>
/// <param name="scheduler">The Quartz scheduler on the schedules database.</param>
/// <param name="journal">The schedule journal.</param>
/// <param name="time">The clock.</param>
public sealed class ScheduleBook(IScheduler scheduler, ScheduleJournal journal, TimeProvider time)
{
    /// <summary>The Quartz group of schedule jobs and their cron triggers.</summary>
    public const string Group = "jailwf";

    /// <summary>The Quartz group of the triggers of queued runs (overlap policy queue).</summary>
    public const string QueueGroup = "jailwf-queue";

    internal const string DefinitionKey = "definition";
    internal const string PlanKey = "plan";
    internal const string PlanFileKey = "planFile";
    internal const string TimeZoneKey = "timeZone";
    internal const string MisfireKey = "misfire";
    internal const string OverlapKey = "overlap";
    internal const string QueuedFireKey = "queuedFire";

    /// <summary>The schedule journal.</summary>
    public ScheduleJournal Journal => journal;

    /// <summary>
    /// Adds a schedule after checking everything: the definition exists, the plan is valid (<see cref="PlanLoader.Parse"/>), the
    /// cron expression parses and fires, the time zone exists. Nothing is scheduled when a check fails.
    /// </summary>
    /// <param name="request">The schedule.</param>
    /// <param name="definitionExists">Whether a workflow definition id is known.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The new schedule.</returns>
    /// <exception cref="ArgumentException">Invalid cron expression or unknown time zone.</exception>
    /// <exception cref="KeyNotFoundException">Unknown definition.</exception>
    /// <exception cref="PlanValidationException">Invalid plan.</exception>
    public async Task<ScheduleView> AddAsync(ScheduleRequest request, Func<string, bool> definitionExists, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(definitionExists);
        var cron = ScheduleMath.ParseCron(request.Cron, request.TimeZone);
        if (string.IsNullOrWhiteSpace(request.Definition) || !definitionExists(request.Definition))
        {
            throw new KeyNotFoundException($"Unknown workflow definition '{request.Definition}': nothing was scheduled.");
        }

        var plan = PlanLoader.Parse(request.Plan);
        var id = $"{request.Definition}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3))}";
        var job = JobBuilder.Create<ScheduledRunJob>()
            .WithIdentity(id, Group)
            .WithDescription($"{request.Definition} for {plan.JailHost.Name}")
            .StoreDurably()
            .RequestRecovery()
            .DisallowConcurrentExecution()
            .UsingJobData(DefinitionKey, request.Definition)
            .UsingJobData(PlanKey, request.Plan)
            .UsingJobData(PlanFileKey, request.PlanFile ?? string.Empty)
            .UsingJobData(TimeZoneKey, cron.TimeZone.Id)
            .UsingJobData(MisfireKey, request.Misfire.ToString())
            .UsingJobData(OverlapKey, request.Overlap.ToString())
            .Build();
        var trigger = TriggerBuilder.Create(time)
            .WithIdentity(id, Group)
            .ForJob(job)
            .WithSchedule(CronScheduleBuilder.Create(cron)
                .InTimeZone(cron.TimeZone)
                .WithMisfireInstruction(request.Misfire == MisfirePolicy.FireOnce ? CronTriggerMisfireInstruction.FireAndProceed : CronTriggerMisfireInstruction.DoNothing))
            .Build();
        await scheduler.ScheduleJob(job, trigger, cancellationToken: cancellationToken).ConfigureAwait(false);
        await journal.AppendAsync(id, ScheduleEventKind.Added, $"added: {request.Definition} for {plan.JailHost.Name}, cron '{request.Cron}' in {cron.TimeZone.Id}, misfire {Text(request.Misfire)}, overlap {Text(request.Overlap)}", cancellationToken: cancellationToken).ConfigureAwait(false);
        return await GetAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every schedule, by id.</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The schedules.</returns>
    public async Task<IReadOnlyList<ScheduleView>> ListAsync(CancellationToken cancellationToken = default)
    {
        var views = new List<ScheduleView>();
        var ids = new List<string>();
        var page = await scheduler.QueryJobs(new JobQuery { Group = GroupMatcher<JobKey>.GroupEquals(Group) }, cancellationToken).ConfigureAwait(false);
        ids.AddRange(page.Items.Select(h => h.Key.Name));

        foreach (var id in ids.Order(StringComparer.Ordinal))
        {
            views.Add(await GetAsync(id, cancellationToken).ConfigureAwait(false));
        }

        return views;
    }

    /// <summary>One schedule.</summary>
    /// <param name="id">The schedule id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="KeyNotFoundException">No such schedule.</exception>
    public async Task<ScheduleView> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var job = await scheduler.GetJobDetail(new JobKey(id, Group), cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"No schedule '{id}' ('jailwf schedule list' shows them).");
        var data = job.JobDataMap;
        var trigger = await scheduler.GetTrigger(new TriggerKey(id, Group), cancellationToken).ConfigureAwait(false) as ICronTrigger;
        var zone = trigger?.TimeZone ?? TimeZoneInfo.Utc;
        var paused = await scheduler.GetTriggerState(new TriggerKey(id, Group), cancellationToken).ConfigureAwait(false) == TriggerState.Paused;
        var plan = PlanLoader.Parse(Text(data, PlanKey));
        var events = await journal.ReadAsync(id, cancellationToken).ConfigureAwait(false);
        return new ScheduleView(
            id,
            Text(data, DefinitionKey),
            Text(data, PlanFileKey) is { Length: > 0 } file ? file : null,
            plan.JailHost.Name,
            trigger?.CronExpressionString ?? string.Empty,
            zone.Id,
            Enum.Parse<MisfirePolicy>(Text(data, MisfireKey)),
            Enum.Parse<OverlapPolicy>(Text(data, OverlapKey)),
            paused,
            paused ? null : trigger?.NextFireTimeUtc is { } next ? TimeZoneInfo.ConvertTime(next, zone) : null,
            trigger?.PreviousFireTimeUtc is { } previous ? TimeZoneInfo.ConvertTime(previous, zone) : null,
            events.Count > 0 ? events[^1] : null);
    }

    /// <summary>Pauses a schedule: it fires no more until resumed (fire times while paused count as missed on resume; its misfire policy decides).</summary>
    /// <param name="id">The schedule id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="KeyNotFoundException">No such schedule.</exception>
    public async Task<ScheduleView> PauseAsync(string id, CancellationToken cancellationToken = default)
    {
        _ = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        await scheduler.PauseJob(new JobKey(id, Group), cancellationToken).ConfigureAwait(false);
        await journal.AppendAsync(id, ScheduleEventKind.Paused, $"paused by {Environment.UserName}", cancellationToken: cancellationToken).ConfigureAwait(false);
        return await GetAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Resumes a paused schedule.</summary>
    /// <param name="id">The schedule id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="KeyNotFoundException">No such schedule.</exception>
    public async Task<ScheduleView> ResumeAsync(string id, CancellationToken cancellationToken = default)
    {
        _ = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        await scheduler.ResumeJob(new JobKey(id, Group), cancellationToken).ConfigureAwait(false);
        await journal.AppendAsync(id, ScheduleEventKind.Resumed, $"resumed by {Environment.UserName}", cancellationToken: cancellationToken).ConfigureAwait(false);
        return await GetAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes a schedule (its job, its trigger and a queued run); instances it started are not touched.</summary>
    /// <param name="id">The schedule id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    /// <exception cref="KeyNotFoundException">No such schedule.</exception>
    public async Task RemoveAsync(string id, CancellationToken cancellationToken = default)
    {
        if (!await scheduler.DeleteJob(new JobKey(id, Group), cancellationToken).ConfigureAwait(false))
        {
            throw new KeyNotFoundException($"No schedule '{id}' ('jailwf schedule list' shows them).");
        }
    }

    /// <summary>The policy's name on the command line.</summary>
    /// <param name="policy">The policy.</param>
    /// <returns><c>fire-once</c> or <c>skip</c>.</returns>
    public static string Text(MisfirePolicy policy) => policy == MisfirePolicy.FireOnce ? "fire-once" : "skip";

    /// <summary>The policy's name on the command line.</summary>
    /// <param name="policy">The policy.</param>
    /// <returns><c>skip</c> or <c>queue</c>.</returns>
    public static string Text(OverlapPolicy policy) => policy == OverlapPolicy.Skip ? "skip" : "queue";

    /// <summary>Reads a command-line misfire policy.</summary>
    /// <param name="text"><c>fire-once</c> or <c>skip</c>.</param>
    /// <returns>The policy.</returns>
    /// <exception cref="ArgumentException">Neither.</exception>
    public static MisfirePolicy ParseMisfire(string text) => text switch
    {
        "fire-once" => MisfirePolicy.FireOnce,
        "skip" => MisfirePolicy.Skip,
        _ => throw new ArgumentException($"--misfire is fire-once or skip, not '{text}'.", nameof(text)),
    };

    /// <summary>Reads a command-line overlap policy.</summary>
    /// <param name="text"><c>skip</c> or <c>queue</c>.</param>
    /// <returns>The policy.</returns>
    /// <exception cref="ArgumentException">Neither.</exception>
    public static OverlapPolicy ParseOverlap(string text) => text switch
    {
        "skip" => OverlapPolicy.Skip,
        "queue" => OverlapPolicy.Queue,
        _ => throw new ArgumentException($"--overlap is skip or queue, not '{text}'.", nameof(text)),
    };

    internal static string Text(JobDataMap data, string key) =>
        data.TryGetValue(key, out var value) ? Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty : string.Empty;
}
