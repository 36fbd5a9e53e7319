using JailWorkflows.Engine.Activities;
using JailWorkflows.Server.Schedules;
using Microsoft.Extensions.Time.Testing;

namespace JailWorkflows.Tests.Schedules;

/// <summary>The pure parts of schedules and maintenance windows, on a fake clock: time zones, DST, misfire decisions.</summary>
public sealed class WindowAndScheduleMathTests
{
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    [Fact]
    public void A_window_over_midnight_is_open_from_its_start_to_its_end_in_its_time_zone()
    {
        var window = MaintenanceWindow.Parse("22:00", "06:00", "Europe/Berlin");
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 20, 59, 0, TimeSpan.Zero)); // 21:59 in Berlin (+01:00)
        Assert.False(window.IsOpen(clock.GetUtcNow()));
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 22, 0, 0, TimeSpan.FromHours(1)), window.NextOpening(clock.GetUtcNow()));

        clock.Advance(TimeSpan.FromMinutes(1)); // 22:00
        Assert.True(window.IsOpen(clock.GetUtcNow()));
        Assert.Equal(clock.GetUtcNow(), window.NextOpening(clock.GetUtcNow()));

        clock.SetUtcNow(new DateTimeOffset(2026, 12, 2, 4, 59, 59, TimeSpan.Zero)); // 05:59:59
        Assert.True(window.IsOpen(clock.GetUtcNow()));
        clock.Advance(TimeSpan.FromSeconds(1)); // 06:00: closed until 22:00 the same day
        Assert.False(window.IsOpen(clock.GetUtcNow()));
        Assert.Equal(new DateTimeOffset(2026, 12, 2, 22, 0, 0, TimeSpan.FromHours(1)), window.NextOpening(clock.GetUtcNow()));
    }

    [Fact]
    public void A_window_opening_in_the_spring_forward_gap_opens_when_the_clock_jumps_and_one_in_the_repeated_hour_at_its_first_occurrence()
    {
        // 2027-03-28 02:00 CET the clocks in Berlin jump to 03:00 CEST: 02:30 does not exist that night.
        var spring = MaintenanceWindow.Parse("02:30", "05:00", "Europe/Berlin");
        var opening = spring.NextOpening(new DateTimeOffset(2027, 3, 27, 23, 0, 0, TimeSpan.Zero));
        Assert.Equal(new DateTimeOffset(2027, 3, 28, 3, 0, 0, TimeSpan.FromHours(2)), opening);
        Assert.Equal(new DateTimeOffset(2027, 3, 28, 1, 0, 0, TimeSpan.Zero), opening.ToUniversalTime());

        // 2026-10-25 03:00 CEST the clocks go back to 02:00 CET: 02:30 happens twice; the window opens at the first.
        var fall = MaintenanceWindow.Parse("02:30", "05:00", "Europe/Berlin");
        var first = fall.NextOpening(new DateTimeOffset(2026, 10, 24, 22, 0, 0, TimeSpan.Zero));
        Assert.Equal(new DateTimeOffset(2026, 10, 25, 0, 30, 0, TimeSpan.Zero), first.ToUniversalTime());
        Assert.True(fall.IsOpen(first));
    }

    [Theory]
    [InlineData("22:00", "22:00", "UTC", "empty")]
    [InlineData("24:00", "06:00", "UTC", "not a time of day")]
    [InlineData("22:00", "06:00", "Mars/Olympus", "Unknown time zone 'Mars/Olympus'")]
    public void A_bad_window_is_refused_with_the_reason(string start, string end, string zone, string expected)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => MaintenanceWindow.Parse(start, end, zone));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Next_fire_times_are_computed_in_the_schedules_time_zone_across_a_dst_change()
    {
        var cron = ScheduleMath.ParseCron("0 0 2 * * ?", "Europe/Berlin");
        var fires = ScheduleMath.NextFireTimes(cron, new DateTimeOffset(2026, 10, 23, 12, 0, 0, TimeSpan.Zero), 3);
        Assert.Equal(
            [
                new DateTimeOffset(2026, 10, 24, 2, 0, 0, TimeSpan.FromHours(2)),
                new DateTimeOffset(2026, 10, 25, 2, 0, 0, TimeSpan.FromHours(2)), // the first 02:00 of the night the clocks go back
                new DateTimeOffset(2026, 10, 26, 2, 0, 0, TimeSpan.FromHours(1)),
            ],
            fires);
        Assert.All(fires, f => Assert.Equal(2, f.Hour));
    }

    [Fact]
    public void A_process_down_from_0155_to_0230_gives_one_run_under_fire_once_and_none_under_skip_and_the_next_fire_is_tomorrow()
    {
        var cron = ScheduleMath.ParseCron("0 0 2 * * ?", "Europe/Berlin");
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 1, 55, 0, TimeSpan.FromHours(1)));
        var down = clock.GetUtcNow();
        clock.Advance(TimeSpan.FromMinutes(35)); // 02:30
        var tomorrow = new DateTimeOffset(2026, 12, 2, 2, 0, 0, TimeSpan.FromHours(1));

        var once = ScheduleMath.Misfire(cron, MisfirePolicy.FireOnce, down, clock.GetUtcNow(), TimeSpan.FromMinutes(1));
        Assert.Equal([new DateTimeOffset(2026, 12, 1, 2, 0, 0, TimeSpan.FromHours(1))], once.Missed);
        Assert.True(once.RunNow);
        Assert.Equal(tomorrow, once.Next);

        var skip = ScheduleMath.Misfire(cron, MisfirePolicy.Skip, down, clock.GetUtcNow(), TimeSpan.FromMinutes(1));
        Assert.False(skip.RunNow);
        Assert.Equal(tomorrow, skip.Next);

        // Down three nights: still one run.
        clock.Advance(TimeSpan.FromDays(3));
        var long_ = ScheduleMath.Misfire(cron, MisfirePolicy.FireOnce, down, clock.GetUtcNow(), TimeSpan.FromMinutes(1));
        Assert.Equal(4, long_.Missed.Count);
        Assert.True(long_.RunNow);

        // A restart before the fire time misses nothing and keeps the 02:00 fire.
        var early = ScheduleMath.Misfire(cron, MisfirePolicy.FireOnce, down, down + TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(1));
        Assert.Empty(early.Missed);
        Assert.False(early.RunNow);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 2, 0, 0, TimeSpan.FromHours(1)), early.Next);
    }

    [Theory]
    [InlineData("0 0 25 * * ?", null, "Invalid cron expression")]
    [InlineData("every night", null, "Invalid cron expression")]
    [InlineData("", null, "A cron expression is required")]
    [InlineData("0 0 2 * * ?", "Nowhere/Atlantis", "Unknown time zone")]
    public void A_bad_cron_expression_or_time_zone_is_refused_with_the_reason(string cron, string? zone, string expected)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => ScheduleMath.ParseCron(cron, zone));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
