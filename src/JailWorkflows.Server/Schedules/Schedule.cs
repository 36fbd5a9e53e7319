using System.Globalization;
using System.Text.Json.Serialization;
using JailWorkflows.Engine.Activities;
using Quartz;

namespace JailWorkflows.Server.Schedules;

/// <summary>What a schedule does when the process was down (or the scheduler busy) at a fire time.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<MisfirePolicy>))]
public enum MisfirePolicy
{
    /// <summary>Run once as soon as the scheduler is back, however many fire times were missed, then follow the cron expression (the default).</summary>
    FireOnce,

    /// <summary>Run nothing for the missed fire times; the next run is at the next fire time.</summary>
    Skip,
}

/// <summary>What a schedule does when it fires while a run of the same definition on the same jail host is still unfinished.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OverlapPolicy>))]
public enum OverlapPolicy
{
    /// <summary>Start nothing; the skipped fire is journaled (the default).</summary>
    Skip,

    /// <summary>Start the run as soon as the unfinished one has ended (at most one run waits per schedule).</summary>
    Queue,
}

/// <summary>What a schedule's fire decided (the schedule journal).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ScheduleEventKind>))]
public enum ScheduleEventKind
{
    /// <summary>The schedule was added.</summary>
    Added,

    /// <summary>A run was started (its instances are named).</summary>
    Started,

    /// <summary>A fire found its run started already (a fire repeated after a crash): nothing was started again.</summary>
    AlreadyStarted,

    /// <summary>A fire was skipped: a run on the same jail host was unfinished (overlap policy skip, or a run is queued already).</summary>
    OverlapSkipped,

    /// <summary>A fire was queued behind an unfinished run (overlap policy queue).</summary>
    Queued,

    /// <summary>Fire times were missed (the process was down); the misfire policy decided.</summary>
    Misfired,

    /// <summary>A fire could not start its run (e.g. its definition is gone, or a jail is busy).</summary>
    Failed,

    /// <summary>Paused by a person.</summary>
    Paused,

    /// <summary>Resumed by a person.</summary>
    Resumed,
}

/// <summary>What <c>jailwf schedule add</c> asks for.</summary>
/// <param name="Definition">The workflow definition id.</param>
/// <param name="Plan">The plan's YAML text (stored with the schedule; a later edit of the file does not change it).</param>
/// <param name="PlanFile">Where the plan was read from, for people; may be null.</param>
/// <param name="Cron">A Quartz cron expression (seconds first: <c>0 0 2 * * ?</c> is 02:00 every day).</param>
/// <param name="TimeZone">The IANA time zone the cron expression is read in; default UTC.</param>
/// <param name="Misfire">The misfire policy.</param>
/// <param name="Overlap">The overlap policy.</param>
public sealed record ScheduleRequest(string Definition, string Plan, string? PlanFile, string Cron, string? TimeZone = null, MisfirePolicy Misfire = MisfirePolicy.FireOnce, OverlapPolicy Overlap = OverlapPolicy.Skip);

/// <summary>A schedule as <c>jailwf schedule list</c> shows it.</summary>
/// <param name="Id">The schedule id.</param>
/// <param name="Definition">The workflow definition it starts.</param>
/// <param name="PlanFile">Where its plan was read from, if known.</param>
/// <param name="JailHost">The plan's jail host.</param>
/// <param name="Cron">The cron expression.</param>
/// <param name="TimeZone">Its time zone (IANA id).</param>
/// <param name="Misfire">The misfire policy.</param>
/// <param name="Overlap">The overlap policy.</param>
/// <param name="Paused">Whether it is paused.</param>
/// <param name="NextFire">The next fire time in the schedule's time zone (with its offset); null when paused or none is left.</param>
/// <param name="PreviousFire">The last fire time in the schedule's time zone, if it fired.</param>
/// <param name="LastEvent">The newest entry of its journal, if any.</param>
public sealed record ScheduleView(string Id, string Definition, string? PlanFile, string JailHost, string Cron, string TimeZone, MisfirePolicy Misfire, OverlapPolicy Overlap, bool Paused, DateTimeOffset? NextFire, DateTimeOffset? PreviousFire, ScheduleEvent? LastEvent);

/// <summary>One entry of a schedule's journal.</summary>
/// <param name="Id">Entry id (ascending).</param>
/// <param name="ScheduleId">The schedule.</param>
/// <param name="At">When it was written (UTC).</param>
/// <param name="FireTime">The fire time it is about (UTC), if any.</param>
/// <param name="Kind">What was decided.</param>
/// <param name="Message">For people.</param>
/// <param name="Instances">The workflow instances it concerns (started, or the unfinished ones it overlapped with).</param>
public sealed record ScheduleEvent(long Id, string ScheduleId, DateTimeOffset At, DateTimeOffset? FireTime, ScheduleEventKind Kind, string Message, IReadOnlyList<string> Instances);

/// <summary>Schedule arithmetic as pure functions (time zones, DST, misfire), tested with a fake clock.</summary>
public static class ScheduleMath
{
    /// <summary>Parses a Quartz cron expression in a time zone.</summary>
    /// <param name="cron">The expression (six or seven fields, seconds first, e.g. <c>0 0 2 * * ?</c>).</param>
    /// <param name="timeZone">The IANA time zone, or null for UTC.</param>
    /// <returns>The expression, bound to its time zone.</returns>
    /// <exception cref="ArgumentException">The expression is invalid, or the time zone unknown; the message says why.</exception>
    public static CronExpression ParseCron(string cron, string? timeZone)
    {
        if (string.IsNullOrWhiteSpace(cron))
        {
            throw new ArgumentException("A cron expression is required (--cron), e.g. \"0 0 2 * * ?\" for 02:00 every day (seconds first).", nameof(cron));
        }

        var zone = MaintenanceWindow.FindTimeZone(string.IsNullOrWhiteSpace(timeZone) ? "UTC" : timeZone);
        CronExpression expression;
        try
        {
            expression = new CronExpression(cron.Trim(), zone);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException($"Invalid cron expression '{cron}': {ex.Message} (Quartz syntax, seconds first: \"0 0 2 * * ?\" is 02:00 every day).", nameof(cron));
        }

        if (expression.GetNextValidTimeAfter(DateTimeOffset.UnixEpoch) is null && expression.GetNextValidTimeAfter(DateTimeOffset.UtcNow) is null)
        {
            throw new ArgumentException($"The cron expression '{cron}' never fires.", nameof(cron));
        }

        return expression;
    }

    /// <summary>The next fire times after an instant, in the expression's time zone (DST as Quartz computes it).</summary>
    /// <param name="cron">The expression.</param>
    /// <param name="after">The instant.</param>
    /// <param name="count">How many.</param>
    /// <returns>The fire times, each with its zone offset.</returns>
    public static IReadOnlyList<DateTimeOffset> NextFireTimes(CronExpression cron, DateTimeOffset after, int count)
    {
        ArgumentNullException.ThrowIfNull(cron);
        var times = new List<DateTimeOffset>();
        var at = after;
        while (times.Count < count && cron.GetNextValidTimeAfter(at) is { } next)
        {
            times.Add(TimeZoneInfo.ConvertTime(next, cron.TimeZone));
            at = next;
        }

        return times;
    }

    /// <summary>
    /// What a misfire policy makes of fire times missed while the process was down: the fire times missed between
    /// <paramref name="lastFire"/> (exclusive; the last one before the outage) and <paramref name="now"/> (later than the
    /// misfire threshold), whether one run starts now, and the next regular fire time. Fire-once runs once however many were
    /// missed; skip runs none. Quartz applies the same rule (FireAndProceed / DoNothing); this states it for the journal and tests.
    /// </summary>
    /// <param name="cron">The expression.</param>
    /// <param name="policy">The policy.</param>
    /// <param name="lastFire">The instant the schedule was last looked at before the outage (its next fire time is after it).</param>
    /// <param name="now">Now.</param>
    /// <param name="threshold">How late a fire may be and still run as a regular fire.</param>
    /// <returns>The missed fire times, whether one run starts now, and the next regular fire time.</returns>
    public static (IReadOnlyList<DateTimeOffset> Missed, bool RunNow, DateTimeOffset? Next) Misfire(CronExpression cron, MisfirePolicy policy, DateTimeOffset lastFire, DateTimeOffset now, TimeSpan threshold)
    {
        ArgumentNullException.ThrowIfNull(cron);
        var missed = new List<DateTimeOffset>();
        var at = lastFire;
        while (cron.GetNextValidTimeAfter(at) is { } next && next < now - threshold)
        {
            missed.Add(TimeZoneInfo.ConvertTime(next, cron.TimeZone));
            at = next;
        }

        var following = cron.GetNextValidTimeAfter(missed.Count > 0 ? now : lastFire);
        return (missed, missed.Count > 0 && policy == MisfirePolicy.FireOnce, following is { } f ? TimeZoneInfo.ConvertTime(f, cron.TimeZone) : null);
    }

    /// <summary>A fire's origin, kept with the instances it starts (<see cref="ConsolidationData.Origin"/>): the schedule and the
    /// fire time (UTC, to the second), so the same fire never starts a second run.</summary>
    /// <param name="scheduleId">The schedule.</param>
    /// <param name="fireTime">The fire time.</param>
    /// <returns>The origin text.</returns>
    public static string Origin(string scheduleId, DateTimeOffset fireTime) =>
        string.Create(CultureInfo.InvariantCulture, $"schedule {scheduleId} fire {fireTime.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}");
}
