using System.Globalization;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Plans;
using JailWorkflows.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace JailWorkflows.Tests.Engine;

/// <summary>
/// Parallel branches on a real engine and SQLite file, with activities that need no lab: WaitForWindow (a window that is
/// open, or opens a few seconds from now) and, for failures, StartJail and VerifyJail against this Debian machine, where
/// jls(8) does not exist.
/// </summary>
public sealed class ParallelBranchEngineTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-parallel-").FullName;

    public ParallelBranchEngineTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "jails", "servera", "etc"));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Workflows => Directory.CreateDirectory(Path.Combine(_dir, "workflows")).FullName;

    private EngineOptions Options => new()
    {
        DatabasePath = Path.Combine(_dir, "jailwf.db"),
        WorkflowsDirectory = Workflows,
        JobPollInterval = TimeSpan.FromMilliseconds(200),
        StorePollInterval = TimeSpan.FromMilliseconds(100),
    };

    [Fact]
    public async Task Both_branches_run_at_once_the_join_waits_for_both_and_a_SIGKILL_mid_parallel_resumes_both()
    {
        // One branch waits for a person, the other for a window that opens a few seconds from now; the fork and the join
        // find theirs open. The engine (jailwf serve) is killed while the first branch waits, and usually the second too.
        var opens = Second(DateTimeOffset.UtcNow.AddSeconds(20));
        WriteDefinition("jailHost", $$"""
            { "id": "fork", "activity": "WaitForWindow", "inputs": {{OpenWindow()}} },
            { "id": "left", "activity": "RequestApproval", "inputs": { "subject": "go on" } },
            { "id": "right", "activity": "WaitForWindow", "after": ["fork"], "inputs": {{Window(opens)}} },
            { "id": "join", "activity": "WaitForWindow", "after": ["left", "right"], "inputs": {{OpenWindow()}} }
            """);
        string id;
        bool rightWasWaiting;
        using (var serve = Jailwf.Start("serve", "--db", Options.DatabasePath, "--workflows", Workflows, "--poll", "0.2", "--urls", "http://127.0.0.1:0"))
        {
            await serve.WaitForServeAsync(Options.DatabasePath, Deadline);
            using (var client = await JailWorkflows.Server.ServeClient.ConnectAsync(Options.DatabasePath))
            {
                id = Assert.Single((await client!.RunAsync(new JailWorkflows.Server.RunRequest("parallel", LocalPlans.Yaml(_dir), null))).Instances);
            }

            var (queries, owner) = InstanceQueries.Open(Options.DatabasePath);
            await using (owner)
            {
                var view = await Wait.UntilAsync(
                    async () => await queries.ViewAsync(id) is { } v && v.Steps[1].State == StepState.AwaitingApproval
                        && (await queries.JournalAsync(id, 0, 1000)).Any(e => e.Step == "right" && e.Message.StartsWith("waiting for the maintenance window", StringComparison.Ordinal) || e.Step == "right" && e.Kind == JournalEntryKind.StepFinished) ? v : null,
                    Deadline,
                    "the first branch waiting for its approval and the second one waiting or done");

                // Four steps (the container of the branches is not one), both branches under way, the join not reached.
                Assert.Equal(["fork", "left", "right", "join"], view.Steps.Select(s => s.Id));
                Assert.Equal(StepState.Done, view.Steps[0].State);
                Assert.Equal(StepState.Waiting, view.Steps[3].State);
                rightWasWaiting = view.Steps[2].State == StepState.Running;
            }

            serve.Kill();
        }

        await using var engine = await JailwfEngine.StartAsync(Options);
        var request = await engine.ApproveAsync(id, "the other branch goes on meanwhile");
        Assert.Equal("left", request.Step);
        var done = await Wait.UntilAsync(async () => await engine.Queries.ViewAsync(id) is { State: InstanceState.Complete } v ? v : null, Deadline, "completion");
        Assert.All(done.Steps, s => Assert.Equal(StepState.Done, s.State));

        var journal = await engine.Queries.JournalAsync(id, 0, 1000);
        var text = string.Join("\n", journal.Select(e => $"{e.Id} {e.Timestamp:HH:mm:ss.fff} {e.Step} {e.Kind} {e.Message}"));
        long Entry(string step, JournalEntryKind kind) => Assert.Single(journal, e => e.Step == step && e.Kind == kind).Id;

        // Each step started and finished once, across the kill; the branches overlapped (each started before the other
        // ended), and the join started only after both had ended.
        foreach (var step in new[] { "fork", "left", "right", "join" })
        {
            Assert.True(Entry(step, JournalEntryKind.StepStarted) < Entry(step, JournalEntryKind.StepFinished), text);
        }

        Assert.True(Entry("left", JournalEntryKind.StepStarted) < Entry("right", JournalEntryKind.StepFinished), text);
        Assert.True(Entry("right", JournalEntryKind.StepStarted) < Entry("left", JournalEntryKind.StepFinished), text);
        Assert.True(Entry("join", JournalEntryKind.StepStarted) > Math.Max(Entry("left", JournalEntryKind.StepFinished), Entry("right", JournalEntryKind.StepFinished)), text);
        var finished = journal.Single(e => e.Step == "right" && e.Kind == JournalEntryKind.StepFinished);
        Assert.True(new DateTimeOffset(DateTime.SpecifyKind(finished.Timestamp, DateTimeKind.Utc)) >= opens, $"right ended before its window opened\n{text}");
        if (rightWasWaiting)
        {
            // The killed engine left the second branch sleeping: the next one woke it at once and it slept on until its window.
            var woken = Assert.Single(journal, e => e.Message.StartsWith("engine started: the interrupted step", StringComparison.Ordinal));
            Assert.Equal("engine started: the interrupted step right continues from its checkpoint", woken.Message);
        }
    }

    [Fact]
    public async Task A_failed_branch_is_one_incident_retry_runs_that_step_again_and_the_join_waits_for_the_other_branch()
    {
        var opens = Second(DateTimeOffset.UtcNow.AddSeconds(3));
        WriteDefinition("server", $$"""
            { "id": "fork", "activity": "WaitForWindow", "inputs": {{OpenWindow()}} },
            { "id": "verify", "activity": "VerifyJail", "inputs": { "timeoutSeconds": 1 } },
            { "id": "wait", "activity": "WaitForWindow", "after": ["fork"], "inputs": {{Window(opens)}} },
            { "id": "join", "activity": "WaitForWindow", "after": ["verify", "wait"], "inputs": {{OpenWindow()}} }
            """);
        await using var engine = await JailwfEngine.StartAsync(Options);
        var id = await engine.StartInstanceAsync("parallel", LocalPlan(), "ServerA");
        var view = await Wait.UntilAsync(async () => await engine.Queries.ViewAsync(id) is { State: InstanceState.Incident } v ? v : null, Deadline, "an incident");

        // The failed branch is failed; the other one is not (it runs on, or ended).
        Assert.Equal("verify", view.Incident!.Step);
        Assert.Equal(StepState.Failed, view.Steps.Single(s => s.Id == "verify").State);
        Assert.Contains(view.Steps.Single(s => s.Id == "wait").State, new[] { StepState.Running, StepState.Done });
        Assert.Equal(StepState.Waiting, view.Steps.Single(s => s.Id == "join").State);
        var incidents = ServiceOf<Incidents>(engine);
        Assert.Single(await incidents.AllOpenOfAsync(id, CancellationToken.None));

        // retry: the failed step runs again (and fails again: no jail runs here): one new incident, the first one retried.
        var retried = await engine.RetryAsync(id, "started the jail by hand");
        Assert.Equal("verify", retried.Step);
        Assert.True(retried.Runnable);
        var again = await Wait.UntilAsync(
            async () => await engine.Queries.ViewAsync(id) is { State: InstanceState.Incident } v && v.Incident!.Id != view.Incident.Id ? v : null,
            Deadline,
            "the second incident");
        Assert.Equal("verify", again.Incident!.Step);
        var all = await incidents.OfAsync(id, CancellationToken.None);
        Assert.Equal([IncidentResolution.Retried, (IncidentResolution?)null], all.Select(i => i.Resolution));
        Assert.Equal(2, (await engine.Queries.JournalAsync(id, 0, 1000)).Count(e => e.Step == "verify" && e.Kind == JournalEntryKind.StepFailed));

        // skip: the join runs once the other branch has ended too.
        Assert.Equal("verify", (await engine.SkipAsync(id, "checked by hand", force: false)).Step);
        var done = await Wait.UntilAsync(async () => await engine.Queries.ViewAsync(id) is { State: InstanceState.Complete } v ? v : null, Deadline, "completion");
        Assert.Equal([StepState.Done, StepState.Skipped, StepState.Done, StepState.Done], done.Steps.Select(s => s.State));
        var journal = await engine.Queries.JournalAsync(id, 0, 1000);
        var joinStarted = Assert.Single(journal, e => e.Step == "join" && e.Kind == JournalEntryKind.StepStarted);
        Assert.True(joinStarted.Id > Assert.Single(journal, e => e.Step == "wait" && e.Kind == JournalEntryKind.StepFinished).Id);
        Assert.True(joinStarted.Id > Assert.Single(journal, e => e.Step == "verify" && e.Kind == JournalEntryKind.StepSkipped).Id);
    }

    [Fact]
    public async Task Two_failed_branches_are_two_incidents_and_the_instance_runs_again_once_each_has_a_decision()
    {
        WriteTwoFailingBranches();
        await using var engine = await JailwfEngine.StartAsync(Options);
        var (id, open) = await TwoIncidentsAsync(engine);
        var incidents = ServiceOf<Incidents>(engine);
        var view = (await engine.Queries.ViewAsync(id))!;
        Assert.Equal(open[0].Id, view.Incident!.Id);
        Assert.Equal([StepState.Done, StepState.Failed, StepState.Failed, StepState.Waiting], view.Steps.Select(s => s.State));

        // The first decision is about the oldest incident; the instance stays suspended for the other one.
        await AssertHeldByTheOtherIncidentAsync(engine, id, open, await engine.SkipAsync(id, "done by hand", force: false));

        var second = await engine.SkipAsync(id, "done by hand too", force: false);
        Assert.Equal(open[1].Step, second.Step);
        Assert.Empty(second.SuspendedBy);
        Assert.True(second.Runnable);
        var done = await Wait.UntilAsync(async () => await engine.Queries.ViewAsync(id) is { State: InstanceState.Complete } v ? v : null, Deadline, "completion");
        Assert.Equal([StepState.Done, StepState.Skipped, StepState.Skipped, StepState.Done], done.Steps.Select(s => s.State));
        Assert.All(await incidents.OfAsync(id, CancellationToken.None), i => Assert.Equal(IncidentResolution.Skipped, i.Resolution));
    }

    [Fact]
    public async Task Resume_with_two_failed_branches_names_the_step_of_the_oldest_incident_and_the_one_that_still_holds_the_instance()
    {
        WriteTwoFailingBranches();
        await using var engine = await JailwfEngine.StartAsync(Options);
        var (id, open) = await TwoIncidentsAsync(engine);

        // The first resume takes the oldest incident's step
        // and says the other branch's incident still holds the instance suspended.
        var first = await engine.ResumeAsync(id, "started the jail by hand");
        Assert.False(first.WasRunnable);
        Assert.Equal(open[0].Step, first.Step);
        Assert.False(first.Runnable);
        await AssertHeldByTheOtherIncidentAsync(engine, id, open, first.Decision!);

        // The second resume takes the other one; nothing holds the instance any more, and both failed steps run again.
        var second = await engine.ResumeAsync(id, "verified by hand");
        Assert.False(second.WasRunnable);
        Assert.Equal(open[1].Step, second.Step);
        Assert.Empty(second.SuspendedBy);
        Assert.True(second.Runnable);
        var incidents = ServiceOf<Incidents>(engine);
        var all = await Wait.UntilAsync(
            async () => await incidents.OfAsync(id, CancellationToken.None) is { Count: 4 } o ? o : null,
            Deadline,
            "both resumed steps failing again");
        Assert.Equal([IncidentResolution.Resumed, IncidentResolution.Resumed, null, null], all.Select(i => i.Resolution));
        Assert.Equal(["start", "verify"], all.Skip(2).Select(i => i.Step).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// <c>jailwf resume</c> twice on an instance with two failed branches, with its own engine or through a running
    /// <c>jailwf serve</c> (the control API's answer, <see cref="JailWorkflows.Server.DecisionResponse"/>, carries what holds the instance).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Jailwf_resume_with_two_failed_branches_prints_the_step_it_resumed_and_the_incident_that_still_holds_the_instance(bool served)
    {
        string id;
        IReadOnlyList<Incident> open;
        WriteTwoFailingBranches();
        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            (id, open) = await TwoIncidentsAsync(engine);
        }

        using var serve = served ? Jailwf.Start("serve", "--db", Options.DatabasePath, "--workflows", Workflows, "--poll", "0.2", "--urls", "http://127.0.0.1:0") : null;
        if (serve is not null)
        {
            await serve.WaitForServeAsync(Options.DatabasePath, Deadline);
        }

        var by = serve is null ? string.Empty : $" (through jailwf serve, pid {serve.Pid})";
        string[] Resume(string reason) => ["resume", id, "--db", Options.DatabasePath, "--workflows", Workflows, "--poll", "0.2", "--reason", reason];
        var first = await Jailwf.RunAsync(Deadline, Resume("started the jail by hand"));
        Assert.Contains($"resumed instance {id} at step {open[0].Step}; the instance stays suspended until the incident of step {open[1].Step} has a decision too{by}\n", first.StdOut.ReplaceLineEndings("\n"), StringComparison.Ordinal);

        var second = await Jailwf.RunAsync(Deadline, Resume("verified by hand"));
        Assert.Contains($"resumed instance {id} at step {open[1].Step}{by}\n", second.StdOut.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("stays suspended", second.StdOut, StringComparison.Ordinal);
        if (serve is not null)
        {
            serve.Terminate();
            Assert.Equal(0, await serve.WaitAsync(Deadline));
        }
    }

    /// <summary>
    /// A definition whose two parallel branches fail each (StartJail and VerifyJail: no jail runs on this machine), both in
    /// their first pass: WorkflowCore suspends the instance at the end of the pass in which a step failed, so a branch that
    /// has not failed by then waits for the decision. Which incident is the oldest is WorkflowCore's order within that pass
    /// (its execution pointers' order; VerifyJail's here, the first in the definition too), so these tests do not tell the
    /// oldest incident from the first failed step in definition order: they check the decided step against the incidents'
    /// own order, and what still holds the instance. StartJail gives the running jail that VerifyJail needs, but VerifyJail
    /// is beside it, not after it: skipping StartJail is no loss to any step after it.
    /// </summary>
    private void WriteTwoFailingBranches() =>
        WriteDefinition("server", $$"""
            { "id": "fork", "activity": "WaitForWindow", "inputs": {{OpenWindow()}} },
            { "id": "verify", "activity": "VerifyJail", "retry": { "maxAttempts": 1 }, "inputs": { "timeoutSeconds": 2 } },
            { "id": "start", "activity": "StartJail", "after": ["fork"], "retry": { "maxAttempts": 1 } },
            { "id": "join", "activity": "WaitForWindow", "after": ["verify", "start"], "inputs": {{OpenWindow()}} }
            """);

    /// <summary>Starts an instance of <see cref="WriteTwoFailingBranches"/>'s definition and waits for both incidents.</summary>
    /// <returns>The instance and its open incidents, oldest first.</returns>
    private async Task<(string Id, IReadOnlyList<Incident> Open)> TwoIncidentsAsync(JailwfEngine engine)
    {
        var id = await engine.StartInstanceAsync("parallel", LocalPlan(), "ServerA");
        var incidents = ServiceOf<Incidents>(engine);
        var open = await Wait.UntilAsync(
            async () => await incidents.AllOpenOfAsync(id, CancellationToken.None) is { Count: 2 } o && await engine.Queries.ViewAsync(id) is { State: InstanceState.Incident } ? o : null,
            Deadline,
            "two incidents");
        Assert.Equal(["start", "verify"], open.Select(i => i.Step).Order(StringComparer.Ordinal));
        return (id, open);
    }

    /// <summary>
    /// After the first decision on <see cref="TwoIncidentsAsync"/>'s two incidents: it took the oldest incident's step, and the
    /// other incident holds the instance suspended, as the result, the instance view and the journal say; the join waits.
    /// </summary>
    private static async Task AssertHeldByTheOtherIncidentAsync(JailwfEngine engine, string id, IReadOnlyList<Incident> open, DecisionResult first)
    {
        Assert.Equal(open[0].Step, first.Step);
        Assert.Equal([new HoldingIncident(open[1].Id, open[1].Step)], first.SuspendedBy);
        Assert.False(first.Runnable);
        var between = (await engine.Queries.ViewAsync(id))!;
        Assert.Equal(InstanceState.Incident, between.State);
        Assert.Equal(open[1].Id, between.Incident!.Id);
        Assert.Contains(await engine.Queries.JournalAsync(id, 0, 1000), e => e.Message == $"the instance stays suspended until the incident of step {open[1].Step} has a decision too");
        Assert.Equal(StepState.Waiting, between.Steps.Single(s => s.Id == "join").State);
    }

    private static DateTimeOffset Second(DateTimeOffset t) => new(t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second, TimeSpan.Zero);

    private static string Window(DateTimeOffset opens) =>
        $$"""{ "start": "{{opens.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}}", "end": "{{opens.AddHours(1).ToString("HH:mm:ss", CultureInfo.InvariantCulture)}}", "timeZone": "UTC" }""";

    private static string OpenWindow() => Window(Second(DateTimeOffset.UtcNow.AddMinutes(-10)));

    private void WriteDefinition(string scope, string steps) =>
        File.WriteAllText(Path.Combine(Workflows, "parallel.json"), $$"""{ "id": "parallel", "version": 1, "scope": "{{scope}}", "steps": [ {{steps}} ] }""");

    private Plan LocalPlan() => PlanLoader.Parse(LocalPlans.Yaml(_dir));

    private static T ServiceOf<T>(JailwfEngine engine)
        where T : notnull
    {
        var field = typeof(JailwfEngine).GetField("_services", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        return ((IServiceProvider)field.GetValue(engine)!).GetRequiredService<T>();
    }
}
