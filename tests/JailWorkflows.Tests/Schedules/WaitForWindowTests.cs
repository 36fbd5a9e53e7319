using System.Globalization;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Plans;
using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.Schedules;

/// <summary>WaitForWindow on a real engine and SQLite file: a wait that spans an engine restart still ends at the window's opening.</summary>
public sealed class WaitForWindowTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-window-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private EngineOptions Options => new()
    {
        DatabasePath = Path.Combine(_dir, "jailwf.db"),
        WorkflowsDirectory = Directory.CreateDirectory(Path.Combine(_dir, "workflows")).FullName,
        StorePollInterval = TimeSpan.FromMilliseconds(100),
        JobPollInterval = TimeSpan.FromMilliseconds(200),
    };

    [Fact]
    public async Task A_window_wait_spans_an_engine_restart_and_the_next_step_runs_only_once_the_window_is_open()
    {
        // A window opening a few seconds from now (UTC, to the second): the instance waits, the engine is restarted meanwhile.
        var opens = DateTimeOffset.UtcNow.AddSeconds(4);
        opens = new DateTimeOffset(opens.Year, opens.Month, opens.Day, opens.Hour, opens.Minute, opens.Second, TimeSpan.Zero);
        File.WriteAllText(Path.Combine(Options.WorkflowsDirectory, "window.json"), $$"""
            { "id": "window", "version": 1, "scope": "jailHost", "steps": [
              { "id": "window", "activity": "WaitForWindow", "inputs": { "start": "{{opens:HH:mm:ss}}", "end": "{{opens.AddHours(1):HH:mm:ss}}", "timeZone": "UTC" } } ] }
            """);
        string id;
        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            id = await engine.StartInstanceAsync("window", PlanLoader.Parse(LocalPlans.Yaml(_dir)), string.Empty);
            await Wait.UntilAsync(async () => (await engine.Queries.JournalAsync(id, 0, 100)).Any(e => e.Message.StartsWith("waiting for the maintenance window", StringComparison.Ordinal)), Deadline, "the wait");

            // The sleep is saved with the instance (its checkpoint holds the opening) before the engine goes away.
            await Wait.UntilAsync(
                async () => (await engine.Queries.GetAsync(id))!.ExecutionPointers.Any(p => p.SleepUntil is not null && p.PersistenceData is JailWorkflows.Engine.Activities.ActivityState s && s.Values.ContainsKey("window.opensAt")),
                Deadline,
                "the saved sleep");
        }

        DateTimeOffset restarted;
        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            restarted = DateTimeOffset.UtcNow;
            var done = await Wait.UntilAsync(async () => await engine.Queries.ViewAsync(id) is { State: InstanceState.Complete } v ? v : null, Deadline, "the end of the wait");
            var journal = await engine.Queries.JournalAsync(id, 0, 100);
            var text = string.Join("\n", journal.Select(e => $"{e.Timestamp:HH:mm:ss.fff} {e.Kind} {e.Message}")) + $"\nrestarted {restarted:HH:mm:ss.fff} opens {opens:HH:mm:ss.fff}";
            var finished = Assert.Single(journal, e => e.Kind == JournalEntryKind.StepFinished);
            Assert.True(new DateTimeOffset(DateTime.SpecifyKind(finished.Timestamp, DateTimeKind.Utc)) >= opens, $"the step ended at {finished.Timestamp:O}, before the window opened at {opens:O}");
            var expected = $"it opens at {opens.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} +00:00";
            Assert.All(journal.Where(e => e.Message.Contains("waiting for the maintenance window", StringComparison.Ordinal)), e => Assert.Contains(expected, e.Message, StringComparison.Ordinal));
            if (restarted < opens)
            {
                // The restart woke the sleeping step early; it computed the opening again and slept on.
                Assert.True(journal.Any(e => e.Message.StartsWith("still waiting for the maintenance window", StringComparison.Ordinal)), text);
            }

            Assert.True(journal.Any(e => e.Message.Contains("is open", StringComparison.Ordinal)), text);
            Assert.Equal(StepState.Done, done.Steps[0].State);
        }
    }
}
