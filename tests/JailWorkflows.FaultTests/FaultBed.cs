using System.Text.Json.Nodes;
using JailWorkflows.Tests.EndToEnd;

namespace JailWorkflows.FaultTests;

/// <summary>
/// One consolidation under fault: a <see cref="Consolidation"/> setting (own jails, obj, jobs, state directories) and
/// its own workflows directory holding a copy of <c>consolidate-server</c> whose steps retry after a short backoff, so
/// automatic retries happen within a test. Jail IPs of the fault suite: 127.0.20.70-99.
/// </summary>
internal sealed class FaultBed
{
    public static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The retry policy every step of the test definition carries (ISSUE4.md: attempt k starts after backoff * 2^(k-2) s).</summary>
    public const int MaxAttempts = 3;

    private FaultBed(Consolidation consolidation) => Consolidation = consolidation;

    public Consolidation Consolidation { get; }

    public string Database => Consolidation.Database;

    public string JailRoot => Consolidation.JailRoot;

    public string Workflows => Path.Combine(Consolidation.Directory, "workflows");

    public string JobsDir => Consolidation.Plan.JailHost.JobsDir;

    /// <summary>Creates the bed; <paramref name="shortRetries"/> gives every step <c>retry: { maxAttempts: 3, backoffSeconds: 1 }</c>, else the shipped definition is used as it is.</summary>
    public static FaultBed Create(LabFixture lab, string name, string server, string jailName, string jailIp, double buildStageSeconds = 0.3, bool shortRetries = true)
    {
        var bed = new FaultBed(Consolidation.Create(lab, name, server, jailName, jailIp, buildStageSeconds));
        Directory.CreateDirectory(bed.Workflows);

        // The shipped definition, every step with a short backoff (the default is tens of seconds).
        var shipped = Path.Combine(Path.GetDirectoryName(Jailwf.DllPath)!, "workflows", "consolidate-server.json");
        var definition = JsonNode.Parse(File.ReadAllText(shipped))!.AsObject();
        definition.Remove("$schema");
        foreach (var step in shortRetries ? definition["steps"]!.AsArray() : new JsonArray())
        {
            step!["retry"] = new JsonObject { ["maxAttempts"] = MaxAttempts, ["backoffSeconds"] = 1, ["maxBackoffSeconds"] = 2 };
        }

        File.WriteAllText(Path.Combine(bed.Workflows, "consolidate-server.json"), definition.ToJsonString());
        return bed;
    }

    private string[] Common => ["--db", Database, "--workflows", Workflows, "--poll", "0.3"];

    public string[] RunArgs => ["run", "consolidate-server", "--plan", Consolidation.PlanFile, .. Common];

    public string[] ResumeArgs(string instance) => ["resume", instance, .. Common];

    public string[] ApproveArgs(string instance) => ["approve", instance, "--reason", "fault suite: the lab server's accounts, motd and mail aliases are kept", .. Common];

    public string[] RetryArgs(string instance, string reason) => ["retry", instance, "--reason", reason, .. Common];

    public string[] Query(string verb, params string[] args) => [verb, .. args, "--db", Database];

    public string[] AbortArgs(string instance, string reason) => ["abort", instance, "--reason", reason, .. Common];

    public string[] SkipArgs(string instance, string reason) => ["skip", instance, "--reason", reason, .. Common];

    public Task<InstanceView?> InstanceAsync() => Consolidation.InstanceAsync();

    public Task<IReadOnlyList<InstanceView>> InstancesAsync() => Consolidation.InstancesAsync();

    public async Task<InstanceView> ViewAsync() => (await InstanceAsync()) ?? throw new InvalidOperationException("no instance");

    public Task<IReadOnlyList<JournalEntry>> JournalAsync(string instance) => Consolidation.JournalAsync(instance);

    /// <summary>Follows a jailwf process to the end, approving the instance's /etc files when it stops for them (exit 4).</summary>
    public async Task<(int Exit, string StdOut, string StdErr)> FinishAsync(Jailwf process)
    {
        var exit = await process.WaitAsync(RunTimeout);
        if (exit != 4)
        {
            return (exit, process.StdOut, process.StdErr);
        }

        return await Jailwf.RunAsync(RunTimeout, ApproveArgs((await ViewAsync()).Id));
    }

    /// <summary>Runs jailwf with <paramref name="args"/> and follows the instance to the end (through the approval).</summary>
    public async Task<(int Exit, string StdOut, string StdErr)> RunToEndAsync(params string[] args)
    {
        using var process = Jailwf.Start(args);
        return await FinishAsync(process);
    }

    public Task<string> WaitForJobAsync(string instance, string part, Jailwf process, Func<Task<bool>>? andThen = null) =>
        Consolidation.WaitForJobAsync(instance, part, process, andThen);

    /// <summary>
    /// Starts the consolidation and returns once the transfer of <c>/</c> is caught halfway: its host job runs, dump(8)
    /// pauses (the <paramref name="knob"/> set on this server, journaled as progress) and restore has written into the jail root.
    /// </summary>
    public async Task<(Jailwf Process, string Instance, string Job)> StartCaughtHalfwayAsync(DumpPause knob)
    {
        Assert.Equal("/", knob.MountPoint);
        var process = Jailwf.Start(RunArgs);
        try
        {
            var instance = (await Wait.UntilAsync(InstanceAsync, TimeSpan.FromMinutes(1), "the instance")).Id;
            var job = await WaitForJobAsync(instance, "-p0-", process, async () =>
                (await JournalAsync(instance)).Any(e => e.Kind == JournalEntryKind.Progress && e.Message.StartsWith("partition /:", StringComparison.Ordinal))
                && Directory.Exists(JailRoot) && Directory.EnumerateFileSystemEntries(JailRoot).Any());
            return (process, instance, job);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <c>jailwf retry</c> on the instance's incident, followed to the end (through the approval), then the documented
    /// end: the decision journaled with its reason, nothing finished redone, complete, no incident, the reference's tree.
    /// </summary>
    public async Task RetryToEndAsync(string instance, string reason, Reference reference, string context)
    {
        var before = (await JournalAsync(instance)).Count;
        var retried = await RunToEndAsync(RetryArgs(instance, reason));
        Assert.True(retried.Exit == 0, $"{context}: retry: exit {retried.Exit}\n{retried.StdOut}\n{retried.StdErr}");
        var journal = await JournalAsync(instance);
        Assert.Contains(journal.Skip(before), e => e.Kind == JournalEntryKind.OperatorAction && e.Message.Contains(reason, StringComparison.Ordinal));
        AssertNothingFinishedWasRedone(journal, context, redone: 0);
        var view = await ViewAsync();
        Assert.Equal(InstanceState.Complete, view.State);
        Assert.Null(view.Incident);
        await AssertTreeAsync(reference.Tree, context + ": after the retry");
    }

    /// <summary>Stops the jail (if it runs) and compares its tree with <paramref name="reference"/>.</summary>
    public async Task AssertTreeAsync(SortedSet<string> reference, string after)
    {
        await Consolidation.StopJailAsync();
        var actual = Consolidation.Tree(JailRoot);
        Assert.True(
            reference.SetEquals(actual),
            $"{after} the jail tree differs from an uninterrupted run's:\nonly in the reference:\n  " + string.Join("\n  ", reference.Except(actual).Take(20))
            + $"\nonly after the fault:\n  " + string.Join("\n  ", actual.Except(reference).Take(20)));
    }

    /// <summary>The host jobs the instance started, in order.</summary>
    public static List<string> Started(IReadOnlyList<JournalEntry> journal) =>
        journal.Where(e => e.Kind == JournalEntryKind.JobStarted).Select(e => e.JobId!).ToList();

    /// <summary>
    /// What the journal must show of any run however it was interrupted: no host job started twice, each partition
    /// transferred by one job (the last started for it before "partition X transferred", ended with exit 0) and never
    /// started again after that, the world built exactly once. <paramref name="redone"/> lists the partition
    /// indexes a fault made fail once (their jobs are counted, not single).
    /// </summary>
    public void AssertNothingFinishedWasRedone(IReadOnlyList<JournalEntry> journal, string context, params int[] redone)
    {
        var started = Started(journal);
        Assert.True(started.Count == started.Distinct().Count(), $"{context}: a host job was started twice: {string.Join(", ", started)}\n{Describe(journal)}");
        var partitions = Consolidation.Plan.Servers[0].Partitions;
        for (var i = 0; i < partitions.Count; i++)
        {
            var part = $"-transfer-p{i}-";
            // A kill between this entry and the step's checkpoint makes the rerun journal it again (the same job, not a new transfer).
            var done = journal.Where(e => e.Kind == JournalEntryKind.Info && e.Message == $"partition {partitions[i].MountPoint} transferred").ToList();
            Assert.True(done.Count >= 1, $"{context}: partition {partitions[i].MountPoint} was never transferred\n{Describe(journal)}");
            var by = journal.LastOrDefault(e => e.Kind == JournalEntryKind.JobStarted && e.Id < done[0].Id && e.JobId!.Contains(part, StringComparison.Ordinal));
            Assert.True(
                by is not null && journal.Any(e => e.Kind == JournalEntryKind.JobFinished && e.JobId == by.JobId && e.ExitStatus == 0),
                $"{context}: partition {partitions[i].MountPoint} is marked transferred without a job of it that ended with exit 0\n{Describe(journal)}");
            var afterDone = journal.Where(e => e.Kind == JournalEntryKind.JobStarted && e.Id > done[0].Id && e.JobId!.Contains(part, StringComparison.Ordinal)).ToList();
            Assert.True(afterDone.Count == 0, $"{context}: partition {partitions[i].MountPoint} was started again after it was done: {string.Join(", ", afterDone.Select(e => e.JobId))}\n{Describe(journal)}");
            if (!redone.Contains(i))
            {
                Assert.True(started.Count(j => j.Contains(part, StringComparison.Ordinal)) == 1, $"{context}: partition {partitions[i].MountPoint} was started more than once: {string.Join(", ", started)}\n{Describe(journal)}");
            }
        }

        var world = started.Where(j => j.StartsWith("world-", StringComparison.Ordinal)).ToList();
        Assert.True(world.Count == 1, $"{context}: the world was built {world.Count} times: {string.Join(", ", world)}\n{Describe(journal)}");
        Assert.True(
            journal.Any(e => e.Kind == JournalEntryKind.JobFinished && e.JobId == world[0] && e.ExitStatus == 0)
            && !journal.Any(e => e.Kind == JournalEntryKind.JobFinished && e.JobId == world[0] && e.ExitStatus != 0),
            $"{context}: the one world build did not finish with exit 0\n{Describe(journal)}");
    }

    /// <summary>The journal without job output and progress, one entry a line, for failure messages.</summary>
    public static string Describe(IEnumerable<JournalEntry> journal) =>
        string.Join('\n', journal.Where(e => e.Kind is not (JournalEntryKind.JobOutput or JournalEntryKind.Progress))
            .Select(e => $"  {e.Id} {e.Timestamp:HH:mm:ss.fff} {e.Step} {e.Kind} {e.JobId} {e.ExitStatus} {e.Message}"));
}

/// <summary>An uninterrupted consolidation of a lab server: its jail tree and how many milestones its journal holds.</summary>
internal sealed record Reference(SortedSet<string> Tree, int Milestones);

/// <summary>Uninterrupted consolidations, one per lab server, made once per test run.</summary>
internal static class References
{
    private static readonly Dictionary<string, Task<Reference>> Made = new(StringComparer.Ordinal);
    private static readonly Lock Gate = new();

    /// <summary>
    /// Steps started and finished, host jobs started and finished: how far a consolidation has come, counted the same
    /// way however often it was interrupted (each is journaled once).
    /// </summary>
    public static int Milestones(IReadOnlyList<JournalEntry> journal) =>
        journal.Where(e => e.Kind is JournalEntryKind.StepStarted or JournalEntryKind.StepFinished or JournalEntryKind.JobStarted or JournalEntryKind.JobFinished)
            .Select(e => (e.Kind, e.Step, e.JobId)).Distinct().Count();

    /// <summary>The reference of <paramref name="server"/> (ServerB on 127.0.20.70, ServerC on .71).</summary>
    public static Task<Reference> OfAsync(LabFixture lab, string server)
    {
        lock (Gate)
        {
            if (!Made.TryGetValue(server, out var reference) || reference.IsFaulted)
            {
                Made[server] = reference = MakeAsync(lab, server);
            }

            return reference;
        }
    }

    private static async Task<Reference> MakeAsync(LabFixture lab, string server)
    {
        var ip = server == "ServerB" ? "127.0.20.70" : "127.0.20.71";
        var bed = FaultBed.Create(lab, "fault-ref-" + server.ToLowerInvariant(), server, "fref-" + server.ToLowerInvariant(), ip, buildStageSeconds: 0.1, shortRetries: false);
        try
        {
            var result = await bed.RunToEndAsync(bed.RunArgs);
            Assert.True(result.Exit == 0, $"reference run of {server}: exit {result.Exit}\n{result.StdOut}\n{result.StdErr}");
            var journal = await bed.JournalAsync((await bed.ViewAsync()).Id);
            await bed.Consolidation.StopJailAsync();
            return new Reference(Consolidation.Tree(bed.JailRoot), Milestones(journal));
        }
        finally
        {
            await bed.Consolidation.StopJailAsync();
        }
    }
}
