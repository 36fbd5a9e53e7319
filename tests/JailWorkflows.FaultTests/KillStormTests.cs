using System.Diagnostics;
using System.Globalization;
using WorkflowCore.Models;
using Xunit.Abstractions;

namespace JailWorkflows.FaultTests;

/// <summary>
/// (a) The engine (the jailwf process) SIGKILLed at random instants across whole consolidations of ServerB, restarted after
/// each kill. <c>JAILWF_FAULT_KILLS</c> (default 20) sets how many kills, spread over consolidations of about ten kills
/// each; <c>JAILWF_FAULT_SEED</c> reproduces a run (the seed is printed and named in every failure). Jail IPs 127.0.20.72-73.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class KillStormTests(LabFixture lab, ITestOutputHelper output)
{
    private const int KillsPerConsolidation = 10;

    [LabFact]
    public async Task Consolidations_killed_at_random_instants_complete_after_restarts_with_the_uninterrupted_trees_and_nothing_finished_done_twice()
    {
        var kills = EnvInt("JAILWF_FAULT_KILLS") ?? 20;
        var seed = EnvInt("JAILWF_FAULT_SEED") ?? Random.Shared.Next();
        var random = new Random(seed);
        output.WriteLine($"kill storm: {kills} kills, seed {seed} (JAILWF_FAULT_SEED={seed} reproduces the kill positions)");
        var reference = await References.OfAsync(lab, "ServerB");

        var killed = 0;
        for (var c = 0; killed < kills; c++)
        {
            // Where to kill: after a random number of milestones of a whole consolidation, then a random 0-1.5 s more.
            var budget = Math.Min(KillsPerConsolidation, kills - killed);
            var positions = Enumerable.Range(0, budget).Select(_ => (Milestone: random.Next(reference.Milestones), DelayMs: random.Next(1500))).OrderBy(p => p.Milestone).ToList();
            var context = $"seed {seed}, consolidation {c}";
            // A new directory each time: SQLite's connection pool in this process would read a deleted database at a reused path.
            var bed = FaultBed.Create(lab, $"storm-{c}", "ServerB", $"storm{c}", $"127.0.20.{72 + (c % 2)}", shortRetries: false);
            try
            {
                var watch = Stopwatch.StartNew();
                killed += await StormAsync(bed, positions, context);
                var instance = await bed.ViewAsync();
                Assert.True(instance.Status == WorkflowStatus.Complete, $"{context}: the instance is {instance.Status}");
                var journal = await bed.JournalAsync(instance.Id);
                bed.AssertNothingFinishedWasRedone(journal, context);
                foreach (var again in journal.Where(e => e.Kind is JournalEntryKind.JobFinished or JournalEntryKind.Info && !e.Message.StartsWith("attached", StringComparison.Ordinal))
                    .GroupBy(e => (e.Kind, e.JobId, e.Message)).Where(g => g.Count() > 1))
                {
                    // A kill between a journal entry and the step's checkpoint makes the rerun journal it again (one job, two entries).
                    output.WriteLine($"{context}: journaled {again.Count()} times: {again.Key.Kind} {again.Key.Message}");
                }

                await bed.AssertTreeAsync(reference.Tree, context + ": after the kills");
                output.WriteLine($"consolidation {c}: done in {watch.Elapsed.TotalSeconds:0} s; {killed} kills so far");
            }
            finally
            {
                await bed.Consolidation.StopJailAsync();
            }
        }
    }

    /// <summary>Runs one consolidation to its end, SIGKILLing jailwf at each position; returns how many kills landed.</summary>
    private async Task<int> StormAsync(FaultBed bed, List<(int Milestone, int DelayMs)> positions, string context)
    {
        var kills = 0;
        var lastExit = -1; // -1: killed (or not started)
        var next = 0;
        for (var round = 0; ; round++)
        {
            Assert.True(round < 100, $"{context}: no end after 100 restarts");
            var instance = await bed.InstanceAsync();
            if (instance is { Status: WorkflowStatus.Complete })
            {
                return kills; // the kill came after the end: nothing is left to resume (resume refuses a finished instance)
            }

            var args = instance is null ? bed.RunArgs : lastExit == 4 ? bed.ApproveArgs(instance.Id) : bed.ResumeArgs(instance.Id);
            using var process = Jailwf.Start(args);
            if (next < positions.Count)
            {
                var (milestone, delay) = positions[next];
                await Wait.UntilAsync(
                    async () => process.HasExited || (await bed.InstanceAsync() is { } view && References.Milestones(await bed.JournalAsync(view.Id)) >= milestone),
                    FaultBed.RunTimeout,
                    $"{context}: milestone {milestone}");

                // The kill instant itself is the random part: a chosen delay, not a wait for a condition.
                await Task.Delay(delay);
                if (!process.HasExited)
                {
                    var where = await bed.InstanceAsync() is { } view ? $"{view.Current?.Id ?? "-"} ({References.Milestones(await bed.JournalAsync(view.Id))} milestones)" : "before the instance existed";
                    process.Kill();
                    kills++;
                    next++;
                    lastExit = -1;
                    output.WriteLine($"{context}: kill {kills} ({args[0]}, pid {process.Pid.ToString(CultureInfo.InvariantCulture)}) at milestone >= {milestone} + {delay} ms: {where}");
                    continue;
                }
            }

            lastExit = await process.WaitAsync(FaultBed.RunTimeout);
            Assert.True(lastExit is 0 or 4, $"{context}: jailwf {string.Join(' ', args)} exited {lastExit} after {kills} kills\n{process.StdOut}\n{process.StdErr}");
            if (lastExit == 0)
            {
                return kills;
            }
        }
    }

    private static int? EnvInt(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;
}
