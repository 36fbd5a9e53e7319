using System.Globalization;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// A daily maintenance window on the wall clock of a time zone, e.g. 22:00 to 06:00 in Europe/Berlin: open from
/// <see cref="Start"/> (inclusive) to <see cref="End"/> (exclusive); a window whose end is not after its start runs over
/// midnight. Daylight saving time is honoured: a start that falls in the spring-forward gap opens the window at the end of
/// the gap, a start that occurs twice in the fall-back hour opens it at the first occurrence.
/// </summary>
/// <param name="Start">When the window opens, local time of day.</param>
/// <param name="End">When it closes, local time of day; different from <paramref name="Start"/>.</param>
/// <param name="TimeZone">The time zone of both times.</param>
public sealed record MaintenanceWindow(TimeOnly Start, TimeOnly End, TimeZoneInfo TimeZone)
{
    /// <summary>Reads a window from its text form (the WaitForWindow inputs).</summary>
    /// <param name="start">Opening time, <c>HH:mm</c> or <c>HH:mm:ss</c> (24 h).</param>
    /// <param name="end">Closing time, same form; not equal to <paramref name="start"/>.</param>
    /// <param name="timeZone">An IANA time zone id (e.g. <c>Europe/Berlin</c>) or <c>UTC</c>.</param>
    /// <returns>The window.</returns>
    /// <exception cref="ArgumentException">A time is malformed, both are equal, or the time zone is unknown; the message names which.</exception>
    public static MaintenanceWindow Parse(string start, string end, string timeZone)
    {
        var from = ParseTime(start, nameof(start));
        var to = ParseTime(end, nameof(end));
        if (from == to)
        {
            throw new ArgumentException($"The maintenance window {start}-{end} is empty: start and end are equal.", nameof(end));
        }

        return new MaintenanceWindow(from, to, FindTimeZone(timeZone));
    }

    /// <summary>Finds a time zone by its IANA id.</summary>
    /// <param name="id">The id, e.g. <c>Europe/Berlin</c>.</param>
    /// <returns>The time zone.</returns>
    /// <exception cref="ArgumentException">The id is empty or unknown on this system (tzdata).</exception>
    public static TimeZoneInfo FindTimeZone(string id)
    {
        if (string.IsNullOrWhiteSpace(id))
        {
            throw new ArgumentException("A time zone is required (an IANA id such as Europe/Berlin, or UTC).", nameof(id));
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id.Trim());
        }
        catch (TimeZoneNotFoundException)
        {
            throw new ArgumentException($"Unknown time zone '{id}': give an IANA id such as Europe/Berlin or America/New_York, or UTC.", nameof(id));
        }
        catch (InvalidTimeZoneException ex)
        {
            throw new ArgumentException($"The time zone '{id}' cannot be read: {ex.Message}", nameof(id));
        }
    }

    /// <summary>Whether the window is open at <paramref name="now"/>.</summary>
    /// <param name="now">The instant.</param>
    /// <returns>True when open.</returns>
    public bool IsOpen(DateTimeOffset now)
    {
        var local = TimeOnly.FromTimeSpan(TimeZoneInfo.ConvertTime(now, TimeZone).TimeOfDay);
        return Start < End ? local >= Start && local < End : local >= Start || local < End;
    }

    /// <summary>When the window is open next: <paramref name="now"/> itself when it is open, else its next opening.</summary>
    /// <param name="now">The instant.</param>
    /// <returns>The instant it opens (with the zone's offset at that instant).</returns>
    public DateTimeOffset NextOpening(DateTimeOffset now)
    {
        if (IsOpen(now))
        {
            return now;
        }

        var local = TimeZoneInfo.ConvertTime(now, TimeZone);
        var day = local.Date;
        for (var i = 0; i < 3; i++, day = day.AddDays(1))
        {
            var opening = ToInstant(day + Start.ToTimeSpan());
            if (opening > now)
            {
                return opening;
            }
        }

        throw new InvalidOperationException($"No opening of {this} found after {now:O}.");
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Format(Start)}-{Format(End)} {TimeZone.Id}";

    private static string Format(TimeOnly time) => time.ToString(time.Second == 0 ? "HH:mm" : "HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>The instant of a local wall-clock time: the end of the gap for a skipped time, the first occurrence for a repeated one.</summary>
    private DateTimeOffset ToInstant(DateTime local)
    {
        local = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
        if (TimeZone.IsInvalidTime(local))
        {
            // Spring forward: the wall clock skips this time; the window opens when the clock jumps past the gap
            // (gaps begin and end on whole minutes in tzdata).
            var probe = new DateTime(local.Year, local.Month, local.Day, local.Hour, local.Minute, 0, DateTimeKind.Unspecified);
            while (TimeZone.IsInvalidTime(probe))
            {
                probe = probe.AddMinutes(1);
            }

            return new DateTimeOffset(probe, TimeZone.GetUtcOffset(probe));
        }

        if (TimeZone.IsAmbiguousTime(local))
        {
            // Fall back: the time occurs twice; the first occurrence has the larger offset.
            var offset = TimeZone.GetAmbiguousTimeOffsets(local).Max();
            return new DateTimeOffset(local, offset);
        }

        return new DateTimeOffset(local, TimeZone.GetUtcOffset(local));
    }

    private static TimeOnly ParseTime(string text, string name)
    {
        if (TimeOnly.TryParseExact(text?.Trim(), ["HH:mm", "HH:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
        {
            return time;
        }

        throw new ArgumentException($"'{text}' is not a time of day (HH:mm, 24 h, e.g. 22:00).", name);
    }
}
