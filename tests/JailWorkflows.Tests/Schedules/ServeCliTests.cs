using System.Text.RegularExpressions;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Server;
using JailWorkflows.Tests.Hosts;
using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.Schedules;

/// <summary>
/// The operator commands (<c>run</c>, <c>approve</c>, <c>retry</c>, <c>skip</c>, <c>resume</c>, <c>abort</c>) while a real
/// <c>jailwf serve</c> runs on the database, compared with the same commands on a database without serve: the same exit codes
/// and the same messages (serve's only adds who did it), and no second engine is ever started (serve holds the lock throughout).
/// A local jail host (no lab): a jail host definition whose world build fails while the src tree has a file <c>broken</c>.
/// </summary>
public sealed partial class ServeCliTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private readonly string _root = Directory.CreateTempSubdirectory("jailwf-servecli-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>One CLI command of the scenario and what it did, normalized (instance id, directory and serve's pid replaced).</summary>
    private sealed record Step(string Command, int Exit, string StdOut, string StdErr)
    {
        public override string ToString() => $"{Command} -> exit {Exit}\nstdout:\n{StdOut}\nstderr:\n{StdErr}";
    }

    [Fact]
    public async Task Every_operator_command_goes_through_serve_with_the_exit_codes_and_messages_of_the_cli_engine_and_no_second_engine_starts()
    {
        var direct = await ScenarioAsync(Directory.CreateDirectory(Path.Combine(_root, "direct")).FullName, served: false);
        var served = await ScenarioAsync(Directory.CreateDirectory(Path.Combine(_root, "served")).FullName, served: true);

        Assert.Equal(
            [("run", 1), ("approve", 2), ("retry", 1), ("skip", 4), ("approve", 1), ("resume", 1), ("abort", 0), ("approve", 2)],
            direct.Select(s => (s.Command, s.Exit)).ToList());
        for (var i = 0; i < direct.Count; i++)
        {
            Assert.True(direct[i] == served[i], $"step {i} differs:\nwithout serve: {direct[i]}\nthrough serve: {served[i]}");
        }
    }

    /// <summary>
    /// Drives one instance through the CLI: run (an incident), approve while it does not wait (refused, nothing changed), retry
    /// (the incident again), skip (on to the approval), approve (on to the second build, an incident), resume (the same), abort,
    /// approve on the aborted instance (refused). With <paramref name="served"/>, serve runs the whole time.
    /// </summary>
    private async Task<List<Step>> ScenarioAsync(string dir, bool served)
    {
        var environment = new Dictionary<string, string> { ["PATH"] = DaemonShim.Install(Path.Combine(dir, "shim")) };
        var workflows = Directory.CreateDirectory(Path.Combine(dir, "workflows")).FullName;
        File.WriteAllText(Path.Combine(workflows, "decide.json"), """
            { "id": "decide", "version": 1, "scope": "jailHost", "steps": [
              { "id": "build", "activity": "BuildWorld" },
              { "id": "approval", "activity": "RequestApproval", "inputs": { "subject": "build the world again" } },
              { "id": "build2", "activity": "BuildWorld" } ] }
            """);
        var plan = WritePlanAndSrcTree(dir);
        var database = Path.Combine(dir, "jailwf.db");
        string[] common = ["--db", database, "--workflows", workflows, "--poll", "0.2"];
        var steps = new List<Step>();
        string? id = null;
        Jailwf? serve = null;
        try
        {
            if (served)
            {
                serve = Jailwf.StartWith(environment, ["serve", .. common]);
                await serve.WaitForServeAsync(database, Deadline);
            }

            async Task<Step> CliAsync(string command, params string[] args)
            {
                using var process = Jailwf.StartWith(environment, [command, .. args, .. common]);
                var exit = await process.WaitAsync(Deadline);
                id ??= (await ListAsync(database)).SingleOrDefault()?.Id;
                if (serve is not null)
                {
                    // serve answered, and it alone ran the engine: it holds the lock as before, and every command says so.
                    Assert.False(serve.HasExited, $"serve exited:\n{serve.StdOut}\n{serve.StdErr}");
                    Assert.StartsWith($"pid {serve.Pid}, ", EngineLock.LiveHolder(database), StringComparison.Ordinal);
                    if (exit != 2)
                    {
                        Assert.Contains($"(through jailwf serve, pid {serve.Pid})", process.StdOut, StringComparison.Ordinal);
                    }
                }
                else
                {
                    Assert.Null(EngineLock.LiveHolder(database));
                }

                var step = new Step(command, exit, Normalize(process.StdOut, dir, id, stdout: true), Normalize(process.StdErr, dir, id, stdout: false));
                steps.Add(step);
                return step;
            }

            // run: the build fails (an incident), exit 1.
            await CliAsync("run", "decide", "--plan", plan);
            Assert.NotNull(id);
            Assert.Equal(InstanceState.Incident, (await ViewAsync(database, id))!.State);

            // approve while the instance does not wait for one: exit 2, nothing changed.
            var journal = await JournalAsync(database, id);
            var refused = await CliAsync("approve", id, "--reason", "looks fine");
            Assert.Contains($"Instance <id> does not wait for an approval: it has an incident at step build; nothing was changed.", refused.StdErr, StringComparison.Ordinal);
            Assert.Equal(journal.Count, (await JournalAsync(database, id)).Count);

            // retry: journaled with the reason; the build fails again.
            var retried = await CliAsync("retry", id, "--reason", "cleared the disk");
            Assert.Contains("retrying step build of instance <id>", retried.StdOut, StringComparison.Ordinal);
            journal = await JournalAsync(database, id);
            Assert.Single(journal, e => e.Kind == JournalEntryKind.OperatorAction && e.Message == $"retried by {Environment.UserName} (reason: cleared the disk)");
            Assert.Equal(2, journal.Count(e => e.Kind == JournalEntryKind.Incident));

            // skip: the next step waits for an approval, exit 4.
            await CliAsync("skip", id, "--reason", "built it by hand");
            Assert.Equal(InstanceState.AwaitingApproval, (await ViewAsync(database, id))!.State);
            Assert.Contains(await JournalAsync(database, id), e => e.Kind == JournalEntryKind.StepSkipped && e.Step == "build");

            // approve: the second build runs and fails (the tree is still broken), exit 1.
            var approved = await CliAsync("approve", id, "--reason", "go ahead");
            Assert.Contains("approved step approval of instance <id>: build the world again", approved.StdOut, StringComparison.Ordinal);
            Assert.Equal("build2", (await ViewAsync(database, id))!.Incident?.Step);

            // resume with the incident open: the step runs again and fails again.
            await CliAsync("resume", id, "--reason", "one more time");

            // abort: exit 0, the instance is aborted with the reason.
            var aborted = await CliAsync("abort", id, "--reason", "the src tree is being replaced");
            Assert.Contains("aborted instance <id>", aborted.StdOut, StringComparison.Ordinal);
            Assert.Equal(InstanceState.Aborted, (await ViewAsync(database, id))!.State);
            journal = await JournalAsync(database, id);
            Assert.Contains(journal, e => e.Kind == JournalEntryKind.OperatorAction && e.Message.Contains("the src tree is being replaced", StringComparison.Ordinal));

            // approve on an aborted instance: exit 2, nothing changed.
            await CliAsync("approve", id, "--reason", "too late");
            Assert.Equal(journal.Count, (await JournalAsync(database, id)).Count);
            Assert.Single(await ListAsync(database));

            if (serve is not null)
            {
                serve.Terminate();
                Assert.Equal(0, await serve.WaitAsync(Deadline));
                Assert.Null(EngineLock.LiveHolder(database));
            }

            return steps;
        }
        finally
        {
            serve?.Dispose();
        }
    }

    /// <summary>
    /// What a person reads: the instance id, the test's directory and serve's "(through jailwf serve, pid N)" replaced, and the
    /// follow lines ("[server] step: state", written as the monitor happens to see the steps) left out of standard output.
    /// </summary>
    private static string Normalize(string text, string dir, string? id, bool stdout)
    {
        text = text.Replace(dir, "<dir>", StringComparison.Ordinal);
        if (id is not null)
        {
            text = text.Replace(id, "<id>", StringComparison.Ordinal);
        }

        text = ThroughServe().Replace(text, string.Empty);
        text = WorldJob().Replace(text, "world-<key>-a");
        var lines = text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !stdout || !l.StartsWith('['));
        return string.Join('\n', lines);
    }

    [GeneratedRegex(@" \(through jailwf serve, pid [0-9]+\)")]
    private static partial Regex ThroughServe();

    [GeneratedRegex("world-[0-9a-f]{12}-a")]
    private static partial Regex WorldJob();

    private static async Task<IReadOnlyList<InstanceView>> ListAsync(string database)
    {
        if (!File.Exists(database))
        {
            return [];
        }

        var (queries, owner) = InstanceQueries.Open(database);
        await using (owner)
        {
            return await queries.ListAsync();
        }
    }

    private static async Task<InstanceView?> ViewAsync(string database, string id)
    {
        var (queries, owner) = InstanceQueries.Open(database);
        await using (owner)
        {
            return await queries.ViewAsync(id);
        }
    }

    private static async Task<IReadOnlyList<JournalEntry>> JournalAsync(string database, string id)
    {
        var (queries, owner) = InstanceQueries.Open(database);
        await using (owner)
        {
            return await queries.JournalAsync(id, 0, 100_000);
        }
    }

    /// <summary>A plan with a local jail host whose src tree's buildworld (GNU make) fails while src/broken exists.</summary>
    private static string WritePlanAndSrcTree(string dir)
    {
        var src = Directory.CreateDirectory(Path.Combine(dir, "src", "sys", "conf")).Parent!.Parent!.FullName;
        File.WriteAllText(Path.Combine(src, "sys", "conf", "newvers.sh"), "TYPE=\"FreeBSD\"\nREVISION=\"14.1\"\nBRANCH=\"RELEASE\"\n");
        File.WriteAllText(Path.Combine(src, "broken"), string.Empty);
        File.WriteAllText(Path.Combine(src, "Makefile"), "buildworld:\n\t@echo '>>> World build started'; if [ -e \"$(CURDIR)/broken\" ]; then echo 'cc: error: lib/libc: broken'; exit 1; fi; echo built\n");
        var plan = Path.Combine(dir, "plan.yaml");
        File.WriteAllText(plan, LocalPlans.BuildHostYaml(dir, src, Path.Combine(dir, "obj"), "127.0.20.102"));
        return plan;
    }
}
