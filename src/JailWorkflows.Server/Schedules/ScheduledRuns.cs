using System.Globalization;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Plans;
using Microsoft.Extensions.Logging;
using Quartz;

namespace JailWorkflows.Server.Schedules;

/// <summary>The Quartz job of a schedule: it only starts a workflow run (<see cref="ScheduledRuns.FireAsync"/>).</summary>
/// <param name="runs">The fire logic.</param>
[DisallowConcurrentExecution]
internal sealed class ScheduledRunJob(ScheduledRuns runs) : IJob
{
    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default) => runs.FireAsync(context, cancellationToken);
}

/// <summary>
/// What a schedule's fire does: start one run of its definition for its plan through the engine (one instance per server, or one
/// for the jail host; <see cref="JailwfEngine.StartRunAsync"/>), unless the overlap policy says otherwise, and journal the
/// decision in the schedule journal (and, for an overlap, in the journal of the unfinished instance). The fire's origin
/// (schedule and fire time) is stored with the instances, so a fire repeated after a crash (Quartz recovers it) starts nothing twice.
/// </summary>
/// <param name="engine">The running engine.</param>
/// <param name="journal">The schedule journal.</param>
/// <param name="options">Serve options (queue recheck interval).</param>
/// <param name="time">The clock.</param>
/// <param name="logger">Log.</param>
public sealed partial class ScheduledRuns(JailwfEngine engine, ScheduleJournal journal, ServeOptions options, TimeProvider time, ILogger<ScheduledRuns> logger)
{
    /// <summary>Handles one fire of a schedule's trigger (its cron trigger, or the trigger of a queued run).</summary>
    /// <param name="context">The Quartz job context.</param>
    /// <param name="cancellationToken">Cancellation (scheduler shutting down).</param>
    /// <returns>A task.</returns>
    public async ValueTask FireAsync(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var id = context.JobDetail.Key.Name;
        var data = context.MergedJobDataMap;
        var definition = ScheduleBook.Text(data, ScheduleBook.DefinitionKey);
        var zone = TimeZoneInfo.FindSystemTimeZoneById(ScheduleBook.Text(data, ScheduleBook.TimeZoneKey) is { Length: > 0 } z ? z : "UTC");
        var overlap = Enum.Parse<OverlapPolicy>(ScheduleBook.Text(data, ScheduleBook.OverlapKey));
        var queuedTrigger = context.Trigger.Key.Group == ScheduleBook.QueueGroup ? context.Trigger.Key : null;
        var fire = FireTime(context, data);
        var origin = ScheduleMath.Origin(id, fire);
        var when = Local(fire, zone);
        try
        {
            var plan = PlanLoader.Parse(ScheduleBook.Text(data, ScheduleBook.PlanKey));
            var own = await engine.InstancesOfOriginAsync(origin, cancellationToken).ConfigureAwait(false);
            if (own.Count > 0)
            {
                await journal.AppendAsync(id, ScheduleEventKind.AlreadyStarted, $"the fire at {when} started its run before (instance {string.Join(", ", own)}); nothing started again", fire, own, cancellationToken).ConfigureAwait(false);
                await UnqueueAsync(context, queuedTrigger, cancellationToken).ConfigureAwait(false);
                return;
            }

            var active = await engine.ActiveOnJailHostAsync(definition, plan, cancellationToken).ConfigureAwait(false);
            if (active.Count > 0)
            {
                await OverlapAsync(context, id, definition, plan, overlap, queuedTrigger, fire, when, active.Select(v => v.Id).ToList(), cancellationToken).ConfigureAwait(false);
                return;
            }

            var started = await engine.StartRunAsync(definition, plan, servers: null, origin, cancellationToken).ConfigureAwait(false);
            var ids = started.Select(s => s.Id).ToList();
            foreach (var instance in started.Where(s => s.Started))
            {
                await engine.Journal.AppendAsync(new JournalEntry { InstanceId = instance.Id, Kind = JournalEntryKind.Info, Message = $"started by schedule {id} for its fire at {when}{(queuedTrigger is null ? string.Empty : " (queued behind an earlier run)")}" }, cancellationToken).ConfigureAwait(false);
            }

            await journal.AppendAsync(id, ScheduleEventKind.Started, $"the fire at {when}{(queuedTrigger is null ? string.Empty : " (queued)")} started {definition} for {plan.JailHost.Name}: instance {string.Join(", ", ids)}", fire, ids, cancellationToken).ConfigureAwait(false);
            LogStarted(logger, id, when, string.Join(", ", ids));
            await UnqueueAsync(context, queuedTrigger, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or ArgumentException or InstanceConflictException or PlanValidationException or FormatException or Engine.Definitions.DefinitionValidationException)
        {
            // Nothing the next fire would do differently by retrying now: journaled for people, the schedule goes on.
            await journal.AppendAsync(id, ScheduleEventKind.Failed, $"the fire at {when} started nothing: {ex.Message}", fire, cancellationToken: cancellationToken).ConfigureAwait(false);
            LogFailed(logger, id, when, ex);
            await UnqueueAsync(context, queuedTrigger, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task OverlapAsync(IJobExecutionContext context, string id, string definition, Plan plan, OverlapPolicy overlap, TriggerKey? queuedTrigger, DateTimeOffset fire, string when, IReadOnlyList<string> active, CancellationToken cancellationToken)
    {
        if (queuedTrigger is not null)
        {
            return; // a queued run waits on; its queueing was journaled
        }

        var queueKey = new TriggerKey(id, ScheduleBook.QueueGroup);
        string message;
        ScheduleEventKind kind;
        if (overlap == OverlapPolicy.Queue && !await context.Scheduler.Exists(queueKey, cancellationToken).ConfigureAwait(false))
        {
            var queue = TriggerBuilder.Create(time)
                .WithIdentity(queueKey)
                .ForJob(context.JobDetail.Key)
                .UsingJobData(ScheduleBook.QueuedFireKey, fire.UtcDateTime.ToString("O", CultureInfo.InvariantCulture))
                .StartAt(time.GetUtcNow() + options.QueueRecheckInterval)
                .WithSchedule(SimpleScheduleBuilder.Create().WithInterval(options.QueueRecheckInterval).RepeatForever()
                    .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NowWithExistingCount)) // a queued run looks at once after an outage
                .Build();
            await context.Scheduler.ScheduleTrigger(queue, TriggerConflict.Keep, cancellationToken).ConfigureAwait(false);
            kind = ScheduleEventKind.Queued;
            message = $"the fire at {when} is queued: {definition} instance {string.Join(", ", active)} is still unfinished on {plan.JailHost.Name} (overlap policy queue); it starts when that has ended";
        }
        else
        {
            kind = ScheduleEventKind.OverlapSkipped;
            message = overlap == OverlapPolicy.Queue
                ? $"the fire at {when} is skipped: {definition} instance {string.Join(", ", active)} is still unfinished on {plan.JailHost.Name} and a run of this schedule is queued already"
                : $"the fire at {when} is skipped: {definition} instance {string.Join(", ", active)} is still unfinished on {plan.JailHost.Name} (overlap policy skip)";
        }

        await journal.AppendAsync(id, kind, message, fire, active, cancellationToken).ConfigureAwait(false);
        foreach (var instance in active)
        {
            await engine.Journal.AppendAsync(new JournalEntry { InstanceId = instance, Kind = JournalEntryKind.Info, Message = $"schedule {id}: its fire at {when} {(kind == ScheduleEventKind.Queued ? "waits (queued)" : "was skipped")} while this instance is unfinished" }, cancellationToken).ConfigureAwait(false);
        }

        LogOverlap(logger, id, when, kind.ToString(), string.Join(", ", active));
    }

    private static async Task UnqueueAsync(IJobExecutionContext context, TriggerKey? queuedTrigger, CancellationToken cancellationToken)
    {
        if (queuedTrigger is not null)
        {
            await context.Scheduler.UnscheduleJob(queuedTrigger, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>How Quartz writes <see cref="SchedulerConstants.FailedJobOriginalTriggerScheduledFireTime"/>: DateTimeOffset's invariant "G".</summary>
    private const string RecoveredFireTimeFormat = "MM/dd/yyyy HH:mm:ss zzz";

    /// <summary>The fire time a fire stands for: the queued fire's, a recovered fire's original one, else the trigger's scheduled one.</summary>
    private static DateTimeOffset FireTime(IJobExecutionContext context, JobDataMap data)
    {
        if (ScheduleBook.Text(data, ScheduleBook.QueuedFireKey) is { Length: > 0 } queued
            && DateTimeOffset.TryParse(queued, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var q))
        {
            return q;
        }

        // Quartz 4.7.3's ADO job store (StdAdoDelegate.SelectTriggersForRecoveringJobs) puts the original scheduled fire time
        // into the recovery trigger's data as Convert.ToString(DateTimeOffset, InvariantCulture): "12/01/2026 01:00:00 +00:00",
        // to the second (a cron fire is on the second). Its recovery trigger fires at that time too, the fallback below.
        if (context.Recovering && ScheduleBook.Text(data, SchedulerConstants.FailedJobOriginalTriggerScheduledFireTime) is { Length: > 0 } original
            && DateTimeOffset.TryParseExact(original, RecoveredFireTimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            return parsed;
        }

        return context.ScheduledFireTimeUtc ?? context.FireTimeUtc;
    }

    internal static string Local(DateTimeOffset instant, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTime(instant, zone).ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture) + " " + zone.Id;

    [LoggerMessage(Level = LogLevel.Information, Message = "Schedule {Schedule}: the fire at {Fire} started instance {Instances}")]
    private static partial void LogStarted(ILogger logger, string schedule, string fire, string instances);

    [LoggerMessage(Level = LogLevel.Information, Message = "Schedule {Schedule}: the fire at {Fire}: {Decision} (unfinished: {Instances})")]
    private static partial void LogOverlap(ILogger logger, string schedule, string fire, string decision, string instances);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schedule {Schedule}: the fire at {Fire} started nothing")]
    private static partial void LogFailed(ILogger logger, string schedule, string fire, Exception exception);
}

/// <summary>Journals a schedule's missed fire times (the process was down) and what its misfire policy makes of them.</summary>
/// <param name="journal">The schedule journal.</param>
/// <param name="time">The clock.</param>
internal sealed class MisfireJournal(ScheduleJournal journal, TimeProvider time) : ITriggerListener
{
    public string Name => "jailwf-misfires";

    public ValueTask TriggerFired(ITrigger trigger, IJobExecutionContext context, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask<bool> VetoJobExecution(ITrigger trigger, IJobExecutionContext context, CancellationToken cancellationToken = default) => ValueTask.FromResult(false);

    public async ValueTask TriggerMisfired(ITrigger trigger, IScheduler scheduler, CancellationToken cancellationToken = default)
    {
        if (trigger is not ICronTrigger cron || trigger.Key.Group != ScheduleBook.Group)
        {
            return;
        }

        var missed = trigger.NextFireTimeUtc;
        var zone = cron.TimeZone;
        var now = time.GetUtcNow();
        var next = new CronExpression(cron.CronExpressionString!, zone).GetNextValidTimeAfter(now);
        var message = cron.MisfireInstruction == CronTriggerMisfireInstruction.DoNothing
            ? $"missed the fire at {(missed is { } m ? ScheduledRuns.Local(m, zone) : "?")} (the scheduler was not running); misfire policy skip: no run; next at {(next is { } n ? ScheduledRuns.Local(n, zone) : "never")}"
            : $"missed the fire at {(missed is { } m2 ? ScheduledRuns.Local(m2, zone) : "?")} (the scheduler was not running); misfire policy fire-once: one run starts now";
        await journal.AppendAsync(trigger.Key.Name, ScheduleEventKind.Misfired, message, missed, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public ValueTask TriggerSkipped(ITrigger trigger, IScheduler scheduler, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask TriggerComplete(ITrigger trigger, IJobExecutionContext context, SchedulerInstruction triggerInstructionCode, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask TriggerRetriesExhausted(ITrigger trigger, IJobExecutionContext context, JobExecutionException exception, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
}
