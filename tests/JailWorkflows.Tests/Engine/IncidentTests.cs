using JailWorkflows.Engine;
using JailWorkflows.Engine.Activities;
using JailWorkflows.Engine.Store;
using JailWorkflows.Plans;
using JailWorkflows.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using WorkflowCore.Models;

namespace JailWorkflows.Tests.Engine;

/// <summary>
/// Retry policies, incidents and the operator's decisions on a real engine and SQLite file, with a local jail host:
/// StartJail and VerifyJail run against this Debian machine, where jls(8) does not exist (a failure that may go away,
/// so it is retried) and conflict markers in the jail's etc are a failure that needs a person.
/// </summary>
public sealed class IncidentTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-incident-").FullName;

    public IncidentTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "jails", "servera", "etc"));
        Assert.True(
            Environment.GetEnvironmentVariable("PATH")!.Split(':').All(p => !File.Exists(Path.Combine(p, "jls"))),
            "these tests need a machine without jls(8) on PATH (a Linux test host)");
    }

    private string Workflows => Directory.CreateDirectory(Path.Combine(_dir, "workflows")).FullName;

    private EngineOptions Options => new()
    {
        DatabasePath = Path.Combine(_dir, "jailwf.db"),
        WorkflowsDirectory = Workflows,
        JobPollInterval = TimeSpan.FromMilliseconds(200),
        StorePollInterval = TimeSpan.FromMilliseconds(200),
    };

    private EngineOptions Idle
    {
        get
        {
            var options = Options;
            options.RunInstances = false;
            return options;
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_failure_that_may_pass_is_retried_per_the_definition_then_becomes_an_incident_and_retry_counts_afresh()
    {
        WriteDefinition("""[ { "id": "start", "activity": "StartJail", "retry": { "maxAttempts": 3, "backoffSeconds": 0.2, "maxBackoffSeconds": 0.3 } } ]""");
        await using var engine = await JailwfEngine.StartAsync(Options);
        var id = await engine.StartInstanceAsync("decide", LocalPlan(), "ServerA");
        var view = await IncidentAsync(engine, id);

        Assert.Equal(InstanceState.Incident, view.State);
        Assert.Equal("start", view.Incident!.Step);
        Assert.Equal(3, view.Incident.Attempts);
        Assert.Equal(LocalPlan().JailHost.Name, view.Incident.Host);
        Assert.Contains("jls", view.Incident.Error, StringComparison.Ordinal);
        Assert.Equal(3, view.Steps[0].Failures);
        Assert.Equal(new RetryPolicy(3, TimeSpan.FromSeconds(0.2), TimeSpan.FromSeconds(0.3)), view.Steps[0].Retry);
        var journal = await engine.Queries.JournalAsync(id, 0, 1000);
        Assert.Equal(2, journal.Count(e => e.Kind == JournalEntryKind.Warning && e.Message.StartsWith("attempt ", StringComparison.Ordinal)));
        Assert.Single(journal, e => e.Kind == JournalEntryKind.Incident);

        // Bad input changes nothing: no reason, or a decision that does not fit.
        await Assert.ThrowsAsync<ArgumentException>(() => engine.RetryAsync(id, " "));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => engine.RetryAsync("no-such-instance", "x"));
        Assert.Equal(journal.Count, (await engine.Queries.JournalAsync(id, 0, 1000)).Count);

        // retry: the incident is closed with the reason, the step gets its three attempts again, and fails again.
        var retried = await engine.RetryAsync(id, "installed jls");
        Assert.Equal("start", retried.Step);
        Assert.Empty(retried.SuspendedBy);
        Assert.True(retried.Runnable);
        var again = await Wait.UntilAsync(
            async () => await engine.Queries.ViewAsync(id) is { State: InstanceState.Incident } v && v.Incident!.Id != view.Incident.Id ? v : null,
            Deadline,
            "a second incident");
        Assert.Equal(3, again.Incident!.Attempts);
        var incidents = await ServiceOf<Incidents>(engine).OfAsync(id, CancellationToken.None);
        Assert.Equal(IncidentResolution.Retried, incidents[0].Resolution);
        Assert.Equal("installed jls", incidents[0].Reason);
        Assert.Equal(Environment.UserName, incidents[0].ResolvedBy);
        journal = await engine.Queries.JournalAsync(id, 0, 1000);
        Assert.Contains(journal, e => e.Kind == JournalEntryKind.OperatorAction && e.Message == $"retried by {Environment.UserName} (reason: installed jls)");
        Assert.Equal(4, journal.Count(e => e.Kind == JournalEntryKind.Warning && e.Message.StartsWith("attempt ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_failure_that_needs_a_person_is_an_incident_at_once_and_skip_is_refused_when_a_later_step_needs_the_result()
    {
        File.WriteAllText(Path.Combine(_dir, "jails", "servera", "etc", "group"), "wheel:*:0:root\n<<<<<<< mine\n");
        WriteDefinition("""[ { "id": "start", "activity": "StartJail" }, { "id": "verify", "activity": "VerifyJail", "inputs": { "timeoutSeconds": 1 } } ]""");
        await using var engine = await JailwfEngine.StartAsync(Options);
        var id = await engine.StartInstanceAsync("decide", LocalPlan(), "ServerA");
        var view = await IncidentAsync(engine, id);
        Assert.Equal(1, view.Incident!.Attempts);
        Assert.Contains("conflict markers", view.Incident.Error, StringComparison.Ordinal);
        var before = (await engine.Queries.JournalAsync(id, 0, 1000)).Count;

        // StartJail gives the running jail VerifyJail needs: not skipped, and nothing changes.
        var refused = await Assert.ThrowsAsync<InstanceStateException>(() => engine.SkipAsync(id, "no time", force: false));
        Assert.Contains("verify (VerifyJail) needs its running-jail", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, (await engine.Queries.JournalAsync(id, 0, 1000)).Count);
        Assert.Equal(InstanceState.Incident, (await engine.Queries.ViewAsync(id))!.State);

        // Forced: the step is skipped, the next one runs (and fails: the jail does not run).
        Assert.Equal("start", (await engine.SkipAsync(id, "started it by hand", force: true)).Step);
        var next = await Wait.UntilAsync(
            async () => await engine.Queries.ViewAsync(id) is { State: InstanceState.Incident, Incident.Step: "verify" } v ? v : null,
            Deadline,
            "the verify step's incident");
        Assert.Equal(StepState.Skipped, next.Steps[0].State);
        Assert.Equal(StepState.Failed, next.Steps[1].State);

        // VerifyJail's result is nobody's input: skipped without force, and the instance completes.
        await engine.SkipAsync(id, "checked the services by hand", force: false);
        var done = await Wait.UntilAsync(async () => await engine.Queries.ViewAsync(id) is { State: InstanceState.Complete } v ? v : null, Deadline, "completion");
        Assert.All(done.Steps, s => Assert.Equal(StepState.Skipped, s.State));
        var journal = await engine.Queries.JournalAsync(id, 0, 1000);
        Assert.Equal(2, journal.Count(e => e.Kind == JournalEntryKind.StepSkipped));
        Assert.Contains(journal, e => e.Kind == JournalEntryKind.OperatorAction && e.Message.Contains("forced although verify needs its running-jail", StringComparison.Ordinal));

        // A finished instance takes no decision.
        await Assert.ThrowsAsync<InstanceStateException>(() => engine.RetryAsync(id, "again"));
        await Assert.ThrowsAsync<InstanceStateException>(() => engine.SkipAsync(id, "again", force: true));
        await Assert.ThrowsAsync<InstanceStateException>(() => engine.AbortAsync(id, "again"));
        await Assert.ThrowsAsync<InstanceStateException>(() => engine.ResumeAsync(id, "again"));
    }

    [Fact]
    public async Task Abort_ends_an_instance_with_an_incident_and_closes_the_incident_with_the_reason()
    {
        WriteDefinition("""[ { "id": "verify", "activity": "VerifyJail", "inputs": { "timeoutSeconds": 1 } } ]""");
        await using var engine = await JailwfEngine.StartAsync(Options);
        var id = await engine.StartInstanceAsync("decide", LocalPlan(), "ServerA");
        _ = await IncidentAsync(engine, id);
        Assert.Null(await engine.AbortAsync(id, "server decommissioned"));
        var view = (await engine.Queries.ViewAsync(id))!;
        Assert.Equal(InstanceState.Aborted, view.State);
        Assert.Null(view.Incident);
        var incident = Assert.Single(await ServiceOf<Incidents>(engine).OfAsync(id, CancellationToken.None));
        Assert.Equal(IncidentResolution.Aborted, incident.Resolution);
        Assert.Contains(await engine.Queries.JournalAsync(id, 0, 1000), e => e.Kind == JournalEntryKind.OperatorAction && e.Message.Contains("server decommissioned", StringComparison.Ordinal));

        // The jail is free for a new instance.
        _ = await engine.StartInstanceAsync("decide", LocalPlan(), "ServerA");
    }

    [Fact]
    public async Task An_interrupted_instance_is_listed_as_interrupted_and_runs_as_soon_as_an_engine_starts_not_when_its_sleep_ends()
    {
        WriteDefinition("""[ { "id": "verify", "activity": "VerifyJail", "inputs": { "timeoutSeconds": 1 } } ]""");
        string id;
        var idle = Idle;
        await using (var engine = await JailwfEngine.StartAsync(idle))
        {
            id = await engine.StartInstanceAsync("decide", LocalPlan(), "ServerA");

            // What an engine killed while the step slept between two polls of its host job leaves: a started step
            // whose next run is an hour away.
            var store = ServiceOf<SqlitePersistenceProvider>(engine);
            var instance = (await store.GetWorkflowInstance(id))!;
            var pointer = Assert.Single(instance.ExecutionPointers);
            var now = DateTime.UtcNow;
            pointer.StartTime = now.AddMinutes(-1);
            pointer.SleepUntil = now.AddHours(1);
            instance.NextExecution = now.AddHours(1).Ticks;
            await store.PersistWorkflow(instance);
        }

        var (queries, owner) = InstanceQueries.Open(Options.DatabasePath);
        await using (owner)
        {
            Assert.Equal(InstanceState.Interrupted, (await queries.ViewAsync(id))!.State);
        }

        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            // Well before the hour: the step ran (and failed: no jail runs here).
            var view = await IncidentAsync(engine, id);
            Assert.Equal("verify", view.Incident!.Step);
            Assert.Contains(await engine.Queries.JournalAsync(id, 0, 1000), e => e.Message.StartsWith("engine started: the interrupted step", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_skip_saved_before_a_crash_cut_off_the_closing_of_its_incident_is_taken_and_the_incident_closed()
    {
        File.WriteAllText(Path.Combine(_dir, "jails", "servera", "etc", "group"), "wheel:*:0:root\n<<<<<<< mine\n");
        WriteDefinition("""[ { "id": "start", "activity": "StartJail" }, { "id": "verify", "activity": "VerifyJail", "inputs": { "timeoutSeconds": 1 } } ]""");
        string id;
        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            id = await engine.StartInstanceAsync("decide", LocalPlan(), "ServerA");
            await IncidentAsync(engine, id);
        }

        // What JailwfEngine's decision writes first (the skip in the step's checkpoint, the instance runnable), then the
        // crash: its incident was never closed.
        await using (var idle = await JailwfEngine.StartAsync(Idle))
        {
            var store = ServiceOf<SqlitePersistenceProvider>(idle);
            var instance = (await store.GetWorkflowInstance(id))!;
            var pointer = instance.ExecutionPointers.Single(p => p.StepId == 0);
            var state = (pointer.PersistenceData as ActivityState)?.Clone() ?? new ActivityState();
            state.Values[Activity.SkipKey] = "started it by hand";
            pointer.PersistenceData = state;
            pointer.SleepUntil = null;
            instance.Status = WorkflowStatus.Runnable;
            instance.NextExecution = TimeProvider.System.GetUtcNow().UtcDateTime.Ticks;
            await store.PersistWorkflow(instance);
            Assert.Equal("start", (await ServiceOf<Incidents>(idle).OpenOfAsync(id, CancellationToken.None))?.Step);
        }

        await using (var engine = await JailwfEngine.StartAsync(Options))
        {
            // The step is skipped (not run again), its incident closed as skipped; the next step runs (and fails: no jail).
            var next = await Wait.UntilAsync(
                async () => await engine.Queries.ViewAsync(id) is { State: InstanceState.Incident, Incident.Step: "verify" } v ? v : null,
                Deadline,
                "the verify step's incident");
            Assert.Equal(StepState.Skipped, next.Steps[0].State);
            var start = Assert.Single(await ServiceOf<Incidents>(engine).OfAsync(id, CancellationToken.None), i => i.Step == "start");
            Assert.Equal(IncidentResolution.Skipped, start.Resolution);
            Assert.NotNull(start.ClosedAt);
            var journal = await engine.Queries.JournalAsync(id, 0, 1000);
            Assert.Single(journal, e => e.Kind == JournalEntryKind.StepSkipped && e.Step == "start");
            Assert.Single(journal, e => e.Kind == JournalEntryKind.StepFailed && e.Step == "start");
        }
    }

    [Fact]
    public async Task An_incident_opened_again_for_the_same_step_is_updated_and_one_of_an_earlier_step_is_closed_as_recovered()
    {
        WriteDefinition("""[ { "id": "verify", "activity": "VerifyJail" } ]""");
        await using var engine = await JailwfEngine.StartAsync(Idle);
        var incidents = ServiceOf<Incidents>(engine);
        Incident New(string step, string error, int attempts) => new() { InstanceId = "i-1", Step = step, Activity = "Strip", Host = "jailhost", Error = error, Attempts = attempts };

        var first = await incidents.OpenAsync(New("strip", "exit 1", 1), CancellationToken.None);
        var again = await incidents.OpenAsync(New("strip", "exit 2", 3), CancellationToken.None);
        Assert.Equal(first.Id, again.Id);
        var open = (await incidents.OpenOfAsync("i-1", CancellationToken.None))!;
        Assert.Equal(("exit 2", 3), (open.Error, open.Attempts));

        var later = await incidents.OpenAsync(New("buildworld", "make failed", 1), CancellationToken.None);
        var all = await incidents.OfAsync("i-1", CancellationToken.None);
        Assert.Equal(2, all.Count);
        Assert.Equal(IncidentResolution.Recovered, all[0].Resolution);
        Assert.Equal(later.Id, (await incidents.OpenOfAsync("i-1", CancellationToken.None))!.Id);
    }

    private static T ServiceOf<T>(JailwfEngine engine)
        where T : notnull
    {
        var field = typeof(JailwfEngine).GetField("_services", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        return ((IServiceProvider)field.GetValue(engine)!).GetRequiredService<T>();
    }

    private static Task<InstanceView> IncidentAsync(JailwfEngine engine, string id) =>
        Wait.UntilAsync(async () => await engine.Queries.ViewAsync(id) is { State: InstanceState.Incident } v ? v : null, Deadline, "an incident");

    private void WriteDefinition(string steps) =>
        File.WriteAllText(Path.Combine(Workflows, "decide.json"), $$"""{ "id": "decide", "version": 1, "steps": {{steps}} }""");

    private Plan LocalPlan() => PlanLoader.Parse(LocalPlans.Yaml(_dir));
}
