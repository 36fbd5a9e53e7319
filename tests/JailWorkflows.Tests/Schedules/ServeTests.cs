using JailWorkflows.Engine;
using JailWorkflows.Server;
using JailWorkflows.Server.Schedules;
using JailWorkflows.Tests.Hosts;
using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.Schedules;

/// <summary>
/// <c>jailwf serve</c> as a real process with a local jail host (no lab): a schedule that fires every second starts a world
/// build (a host job that runs until the test lets it end); serve is SIGKILLed during the build and started again; SIGTERM
/// stops it cleanly. The CLI's schedule commands go through serve's socket while it runs.
/// </summary>
public sealed class ServeTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-serve-").FullName;

    public void Dispose()
    {
        // Ends a build left running by a failed test, and waits for it: deleted first, its src/release could never appear and
        // the build's loop would run on forever.
        if (Directory.Exists(Path.Combine(_dir, "src")))
        {
            File.WriteAllText(Path.Combine(_dir, "src", "release"), string.Empty);
            Wait.UntilAsync(() => Task.FromResult(!Builds().Any(BuildRuns)), Deadline, "the build to end").GetAwaiter().GetResult();
        }

        Directory.Delete(_dir, recursive: true);
    }

    private string Database => Path.Combine(_dir, "jailwf.db");

    private string Obj => Path.Combine(_dir, "obj");

    [Fact]
    public async Task A_build_survives_a_sigkill_of_serve_the_trigger_fires_again_after_restart_no_second_build_starts_and_sigterm_stops_serve_cleanly()
    {
        var environment = new Dictionary<string, string> { ["PATH"] = DaemonShim.Install(Path.Combine(_dir, "shim")) };
        var workflows = Directory.CreateDirectory(Path.Combine(_dir, "workflows")).FullName;
        File.WriteAllText(Path.Combine(workflows, "build.json"), """{ "id": "build", "version": 1, "scope": "jailHost", "steps": [ { "id": "buildworld", "activity": "BuildWorld" } ] }""");
        var plan = WritePlanAndSrcTree();
        string[] serve = ["serve", "--db", Database, "--workflows", workflows, "--poll", "0.2", "--urls", "http://127.0.0.1:0"];

        using var first = Jailwf.StartWith(environment, serve);
        await first.WaitForServeAsync(Database, Deadline);
        var add = await Jailwf.RunAsync(Deadline, "schedule", "add", "build", "--plan", plan, "--cron", "* * * * * ?", "--overlap", "skip", "--db", Database, "--workflows", workflows);
        Assert.True(add.Exit == 0, add.StdErr + add.StdOut);
        var id = add.StdOut.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1].TrimEnd(':');
        var journal = new ScheduleJournal(ServeOptions.SchedulesPathOf(Database), TimeProvider.System);

        // The first fire starts the build; the next ones are skipped while it runs.
        var started = await Wait.UntilAsync(async () => (await journal.ReadAsync(id)).FirstOrDefault(e => e.Kind == ScheduleEventKind.Started), Deadline, "the first run");
        var run = Assert.Single(started.Instances);
        await Wait.UntilAsync(() => Task.FromResult(Builds().Length == 1), Deadline, "the build's host job");
        await Wait.UntilAsync(async () => (await journal.ReadAsync(id)).Any(e => e.Kind == ScheduleEventKind.OverlapSkipped), Deadline, "a skipped overlapping fire");

        first.Kill();
        var restarted = DateTimeOffset.UtcNow;
        Assert.True(BuildIsRunning(), "the build's host job outlives serve");

        using var second = Jailwf.StartWith(environment, serve);
        await second.WaitForServeAsync(Database, Deadline);

        // The trigger is not left blocked: it fires again after the restart, and each fire is skipped for the same run.
        var after = await Wait.UntilAsync(async () => (await journal.ReadAsync(id)).FirstOrDefault(e => e.Kind == ScheduleEventKind.OverlapSkipped && e.At > restarted), Deadline, "a fire after the restart");
        Assert.Equal([run], after.Instances);
        Assert.Single(Builds());
        Assert.DoesNotContain(await journal.ReadAsync(id), e => e.Kind == ScheduleEventKind.Started && e.Id != started.Id);

        // Paused through serve, the build let end: the one run completes.
        var pause = await Jailwf.RunAsync(Deadline, "schedule", "pause", id, "--db", Database);
        Assert.True(pause.Exit == 0, pause.StdErr);
        Assert.Contains("paused", pause.StdOut, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(_dir, "src", "release"), string.Empty);
        var (queries, owner) = InstanceQueries.Open(Database);
        await using (owner)
        {
            await Wait.UntilAsync(async () => (await queries.ViewAsync(run))!.State == InstanceState.Complete, Deadline, "the run's completion");
            Assert.Single(await queries.ListAsync());
        }

        Assert.Single(Builds());

        // SIGTERM: exit 0, the socket and the lock are gone.
        second.Terminate();
        Assert.Equal(0, await second.WaitAsync(Deadline));
        Assert.False(File.Exists(ServeOptions.SocketPathOf(Database)), "the control socket is removed");
        Assert.Null(EngineLockHolderFile());
        Assert.Contains("jailwf serve stopped", second.StdOut, StringComparison.Ordinal);

        // Without serve the CLI works on the database directly again.
        var list = await Jailwf.RunAsync(Deadline, "schedule", "list", "--db", Database);
        Assert.True(list.Exit == 0, list.StdErr);
        Assert.Contains("paused", list.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_schedule_input_is_refused_with_exit_2_and_nothing_is_scheduled()
    {
        var plan = WritePlanAndSrcTree();
        var badCron = await Jailwf.RunAsync(Deadline, "schedule", "add", "nightly-buildworld", "--plan", plan, "--cron", "0 0 2 * *", "--db", Database);
        Assert.Equal(2, badCron.Exit);
        Assert.Contains("Invalid cron expression", badCron.StdErr, StringComparison.Ordinal);
        var badZone = await Jailwf.RunAsync(Deadline, "schedule", "add", "nightly-buildworld", "--plan", plan, "--cron", "0 0 2 * * ?", "--time-zone", "Europe/Atlantis", "--db", Database);
        Assert.Equal(2, badZone.Exit);
        Assert.Contains("Unknown time zone 'Europe/Atlantis'", badZone.StdErr, StringComparison.Ordinal);
        var badDefinition = await Jailwf.RunAsync(Deadline, "schedule", "add", "no-such-definition", "--plan", plan, "--cron", "0 0 2 * * ?", "--db", Database);
        Assert.Equal(2, badDefinition.Exit);
        Assert.Contains("Unknown workflow definition 'no-such-definition'", badDefinition.StdErr, StringComparison.Ordinal);
        var list = await Jailwf.RunAsync(Deadline, "schedule", "list", "--db", Database);
        Assert.Equal(0, list.Exit);
        Assert.DoesNotContain("nightly-buildworld-", list.StdOut, StringComparison.Ordinal);
    }

    private string[] Builds() => Directory.Exists(Obj) ? Directory.GetFiles(Obj, "started.*") : [];

    private bool BuildIsRunning() => Builds() is [var file] && BuildRuns(file);

    private static bool BuildRuns(string startedFile) => Directory.Exists("/proc/" + File.ReadAllText(startedFile).Trim());

    private string? EngineLockHolderFile() => EngineLock.LiveHolder(Database);

    /// <summary>A plan with a local jail host whose src tree "builds" (GNU make) until the file src/release exists.</summary>
    private string WritePlanAndSrcTree()
    {
        var src = Directory.CreateDirectory(Path.Combine(_dir, "src", "sys", "conf")).Parent!.Parent!.FullName;
        File.WriteAllText(Path.Combine(src, "sys", "conf", "newvers.sh"), "TYPE=\"FreeBSD\"\nREVISION=\"14.1\"\nBRANCH=\"RELEASE\"\n");
        File.WriteAllText(Path.Combine(src, "Makefile"), "buildworld:\n\t@mkdir -p \"$$MAKEOBJDIRPREFIX\"; echo $$$$ > \"$$MAKEOBJDIRPREFIX/started.$$$$\"; echo building; while [ ! -e \"$(CURDIR)/release\" ]; do sleep 0.1; done; echo built\n");
        var plan = Path.Combine(_dir, "plan.yaml");
        File.WriteAllText(plan, LocalPlans.BuildHostYaml(_dir, src, Obj, "127.0.20.101"));
        return plan;
    }
}
