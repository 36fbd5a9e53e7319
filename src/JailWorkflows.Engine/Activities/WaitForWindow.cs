using System.Globalization;
using System.Text.Json.Nodes;
using JailWorkflows.Engine.Store;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Waits until a daily maintenance window is open (inputs <c>start</c>, <c>end</c>, <c>timeZone</c>, e.g. 22:00 to 06:00
/// in Europe/Berlin; <see cref="MaintenanceWindow"/>), then lets the next step run. While the window is closed the step
/// sleeps until it opens (a WorkflowCore sleep, saved with the instance), journaled as "waiting for the maintenance window
/// … opens at …". The wait survives restarts: an engine that starts wakes the step at once, and the step computes the
/// opening again from the clock and sleeps on; it never lets the next step through before the window opens.
/// </summary>
/// <remarks>Recovery: rerun (it only reads the clock). Never retried: its only failure is a bad input.</remarks>
public sealed class WaitForWindow(ActivityServices services) : Activity(services)
{
    private const string OpensAtKey = "window.opensAt";

    /// <summary>Reads the window from a step's inputs.</summary>
    /// <param name="inputs">The inputs (<c>start</c>, <c>end</c>, <c>timeZone</c>, default UTC).</param>
    /// <returns>The window.</returns>
    /// <exception cref="ArgumentException">A time is malformed or the time zone is unknown.</exception>
    public static MaintenanceWindow WindowOf(JsonObject inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        return MaintenanceWindow.Parse((string?)inputs["start"] ?? string.Empty, (string?)inputs["end"] ?? string.Empty, (string?)inputs["timeZone"] ?? "UTC");
    }

    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        MaintenanceWindow window;
        try
        {
            window = WindowOf(run.Inputs);
        }
        catch (ArgumentException ex)
        {
            throw run.Fail($"maintenance window: {ex.Message.Split(" (Parameter", 2)[0]}");
        }

        var now = Services.Time.GetUtcNow();
        if (window.IsOpen(now))
        {
            await run.JournalAsync(JournalEntryKind.Info, $"the maintenance window {window} is open ({Local(now, window)}); continuing").ConfigureAwait(false);
            return ExecutionResult.Next();
        }

        var opens = window.NextOpening(now);
        var text = opens.ToString("O", CultureInfo.InvariantCulture);
        var before = run.State.Values.GetValueOrDefault(OpensAtKey);
        run.State.Values[OpensAtKey] = text;
        await run.JournalAsync(
            JournalEntryKind.Info,
            before == text
                ? $"still waiting for the maintenance window {window}: it opens at {Local(opens, window)} ({opens.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC)"
                : $"waiting for the maintenance window {window}: it opens at {Local(opens, window)} ({opens.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC)").ConfigureAwait(false);
        return ExecutionResult.Sleep(opens - now, run.State);
    }

    private static string Local(DateTimeOffset instant, MaintenanceWindow window) =>
        TimeZoneInfo.ConvertTime(instant, window.TimeZone).ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture);
}
