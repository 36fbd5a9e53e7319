using System.Globalization;
using System.Net.Http;
using System.Text.Json.Nodes;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Server;
using JailWorkflows.Tests.Lab;
using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.EndToEnd;

/// <summary>
/// nightly-buildworld on the lab, under a real <c>jailwf serve</c>: a consolidated jail is upgraded to a new world (one rebuild,
/// then stop, installworld, merge /etc, start, verify through an upgrade-jail instance), and a second night with nothing changed
/// reuses the world and touches no jail.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class NightlyBuildworldTests(LabFixture lab)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(5);

    [LabFact]
    public async Task A_new_world_is_built_once_and_installed_into_the_consolidated_jail_and_a_second_night_touches_nothing()
    {
        var run = Consolidation.Create(lab, "nightly", "ServerC", "serverc-nb", "127.0.20.101", buildStageSeconds: 0.1);
        var workflows = WriteWorkflowsWithOpenWindow(run.Directory);
        Jailwf? serve = null;
        try
        {
            var consolidated = await run.RunToEndAsync(RunTimeout, run.RunArgs);
            Assert.True(consolidated.Exit == 0, $"consolidation: exit {consolidated.Exit}\n{consolidated.StdOut}\n{consolidated.StdErr}");
            var versionFile = Path.Combine(run.JailRoot, "usr/share/misc/lab-world-version");
            Assert.Equal("FreeBSD 14.1-RELEASE", (await File.ReadAllTextAsync(versionFile)).Trim());
            var consolidation = Assert.Single(await run.InstancesAsync());

            // A security patch lands in the jail host's src tree: a new world is due.
            var newvers = Path.Combine(run.Plan.JailHost.SrcDir, "sys/conf/newvers.sh");
            var text = await File.ReadAllTextAsync(newvers);
            Assert.Contains("BRANCH=\"RELEASE\"", text, StringComparison.Ordinal);
            await File.WriteAllTextAsync(newvers, text.Replace("BRANCH=\"RELEASE\"", "BRANCH=\"RELEASE-p1\"", StringComparison.Ordinal));

            serve = Jailwf.Start("serve", "--db", run.Database, "--workflows", workflows, "--poll", "0.3");
            await serve.WaitForServeAsync(run.Database, TimeSpan.FromMinutes(1));

            // Night 1: the CLI's run goes through serve and follows the nightly instance; an admin approves the jail's /etc
            // files if the upgrade asks for it.
            var first = await RunNightAsync(run, workflows, serve);
            Assert.True(first.Exit == 0, $"night 1: exit {first.Exit}\n{first.StdOut}\n{first.StdErr}\nserve:\n{serve.StdOut}{serve.StdErr}");
            Assert.Contains($"through jailwf serve, pid {serve.Pid}", first.StdOut, StringComparison.Ordinal);

            var instances = await run.InstancesAsync();
            var night1 = Assert.Single(instances, i => i.Definition == "nightly-buildworld");
            var upgrade = Assert.Single(instances, i => i.Definition == "upgrade-jail");
            Assert.Equal(InstanceState.Complete, night1.State);
            Assert.Equal(InstanceState.Complete, upgrade.State);
            Assert.Equal("ServerC", upgrade.Server);
            Assert.All(upgrade.Steps, s => Assert.Equal(StepState.Done, s.State));

            // The world was rebuilt exactly once, by the nightly instance.
            var night1Journal = await run.JournalAsync(night1.Id);
            Assert.Single(night1Journal, e => e.Kind == JournalEntryKind.JobStarted && e.JobId!.StartsWith("world-", StringComparison.Ordinal));
            Assert.Contains(night1Journal, e => e.Step == "buildworld" && e.Message.StartsWith("world 14.1-RELEASE-p1 built", StringComparison.Ordinal));
            Assert.Contains(night1Journal, e => e.Step == "window" && e.Message.Contains("is open", StringComparison.Ordinal));
            Assert.Contains(night1Journal, e => e.Step == "upgrade" && e.Message.Contains($"upgraded by instance {upgrade.Id}", StringComparison.Ordinal));

            // The jail was stopped, the new world installed into it, /etc merged, started and verified.
            var upgradeJournal = await run.JournalAsync(upgrade.Id);
            Assert.Contains(upgradeJournal, e => e.Step == "stop" && e.Message == "jail serverc-nb stopped");
            Assert.Single(upgradeJournal, e => e.Kind == JournalEntryKind.JobStarted && e.Step == "installworld");
            Assert.DoesNotContain(upgradeJournal, e => e.Kind == JournalEntryKind.JobStarted && e.JobId!.StartsWith("world-", StringComparison.Ordinal));
            Assert.Contains(upgradeJournal, e => e.Step == "mergeetc");
            Assert.Contains(upgradeJournal, e => e.Step == "verify" && e.Message.Contains("runs; jexec works; services up: apache", StringComparison.Ordinal));
            Assert.Equal("FreeBSD 14.1-RELEASE-p1", (await File.ReadAllTextAsync(versionFile)).Trim());
            Assert.Contains("14.1-RELEASE-p1", await File.ReadAllTextAsync(Path.Combine(run.JailRoot, "bin/freebsd-version")), StringComparison.Ordinal);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            Assert.Contains("ServerC", await http.GetStringAsync(new Uri("http://127.0.20.101/")), StringComparison.Ordinal);

            // Night 2, nothing changed: the world is reused, no jail is touched.
            var second = await RunNightAsync(run, workflows, serve);
            Assert.True(second.Exit == 0, $"night 2: exit {second.Exit}\n{second.StdOut}\n{second.StdErr}");
            instances = await run.InstancesAsync();
            var night2 = Assert.Single(instances, i => i.Definition == "nightly-buildworld" && i.Id != night1.Id);
            Assert.Equal(InstanceState.Complete, night2.State);
            Assert.Single(instances, i => i.Definition == "upgrade-jail");
            Assert.Equal(4, instances.Count); // the consolidation, two nights, one upgrade
            Assert.Contains(instances, i => i.Id == consolidation.Id);
            var night2Journal = await run.JournalAsync(night2.Id);
            Assert.DoesNotContain(night2Journal, e => e.Kind == JournalEntryKind.JobStarted);
            Assert.Contains(night2Journal, e => e.Step == "buildworld" && e.Message.StartsWith("world 14.1-RELEASE-p1 already built", StringComparison.Ordinal));
            Assert.Contains(night2Journal, e => e.Step == "upgrade" && e.Message.Contains("jail serverc-nb (ServerC) has world 14.1-RELEASE-p1 installed already; left alone", StringComparison.Ordinal));
            Assert.Equal(upgradeJournal.Count, (await run.JournalAsync(upgrade.Id)).Count);
            Assert.Contains("ServerC", await http.GetStringAsync(new Uri("http://127.0.20.101/")), StringComparison.Ordinal);

            serve.Terminate();
            Assert.Equal(0, await serve.WaitAsync(RunTimeout));
        }
        finally
        {
            serve?.Dispose();
            await run.StopJailAsync();
        }
    }

    /// <summary>
    /// UpgradeJails under a SIGKILL: serve dies while the upgrade-jail instance that UpgradeJails started runs its installworld
    /// host job. After serve's restart the nightly instance goes on waiting for the same child (no second upgrade-jail
    /// instance), the child re-attaches to its installworld job (one job start), and the jail ends on the new world.
    /// </summary>
    [LabFact]
    public async Task UpgradeJails_survives_a_SIGKILL_of_serve_while_its_upgrade_instance_installs_the_world()
    {
        var run = Consolidation.Create(lab, "nightly-kill", "ServerC", "serverc-nk", "127.0.20.102", buildStageSeconds: 0.1);
        var workflows = WriteWorkflowsWithOpenWindow(run.Directory);
        string[] serveArgs = ["serve", "--db", run.Database, "--workflows", workflows, "--poll", "0.3"];
        Jailwf? serve = null;
        try
        {
            var consolidated = await run.RunToEndAsync(RunTimeout, run.RunArgs);
            Assert.True(consolidated.Exit == 0, $"consolidation: exit {consolidated.Exit}\n{consolidated.StdOut}\n{consolidated.StdErr}");
            var newvers = Path.Combine(run.Plan.JailHost.SrcDir, "sys/conf/newvers.sh");
            await File.WriteAllTextAsync(newvers, (await File.ReadAllTextAsync(newvers)).Replace("BRANCH=\"RELEASE\"", "BRANCH=\"RELEASE-p1\"", StringComparison.Ordinal));

            serve = Jailwf.Start(serveArgs);
            await serve.WaitForServeAsync(run.Database, TimeSpan.FromMinutes(1));
            using (var night = Jailwf.Start("run", "nightly-buildworld", "--plan", run.PlanFile, "--db", run.Database, "--workflows", workflows, "--poll", "0.3"))
            {
                await Wait.UntilAsync(
                    async () =>
                    {
                        Assert.False(serve.HasExited, $"serve exited:\n{serve.StdOut}\n{serve.StdErr}");
                        Assert.False(night.HasExited, $"the nightly run ended before its upgrade installed the world:\n{night.StdOut}\n{night.StdErr}");
                        var child = (await run.InstancesAsync()).SingleOrDefault(i => i.Definition == "upgrade-jail");
                        return child is not null && (await run.JournalAsync(child.Id)).Any(e => e.Kind == JournalEntryKind.JobStarted && e.Step == "installworld");
                    },
                    RunTimeout,
                    "the upgrade-jail instance's installworld job to start");
                serve.Kill();
                night.Kill();
            }

            serve.Dispose();
            serve = Jailwf.Start(serveArgs);
            await serve.WaitForServeAsync(run.Database, TimeSpan.FromMinutes(1));
            var approved = new HashSet<string>(StringComparer.Ordinal);
            await Wait.UntilAsync(
                async () =>
                {
                    Assert.False(serve.HasExited, $"serve exited:\n{serve.StdOut}\n{serve.StdErr}");
                    var instances = await run.InstancesAsync();
                    Assert.DoesNotContain(instances, i => i.State is InstanceState.Incident or InstanceState.Aborted);
                    foreach (var waiting in instances.Where(i => i.Definition == "upgrade-jail" && i.State == InstanceState.AwaitingApproval && !approved.Contains(i.Id)))
                    {
                        var approve = await Jailwf.RunAsync(RunTimeout, "approve", waiting.Id, "--reason", "nightly kill e2e: the jail's files are kept", "--db", run.Database, "--poll", "0.3");
                        Assert.True(approve.Exit is 0 or 4, $"approve: exit {approve.Exit}\n{approve.StdOut}\n{approve.StdErr}");
                        approved.Add(waiting.Id);
                    }

                    return instances.Any(i => i.Definition == "nightly-buildworld" && i.State == InstanceState.Complete);
                },
                RunTimeout,
                "the nightly instance to complete after serve's restart");

            var all = await run.InstancesAsync();
            var upgrade = Assert.Single(all, i => i.Definition == "upgrade-jail");
            Assert.Equal(InstanceState.Complete, upgrade.State);
            var nightly = Assert.Single(all, i => i.Definition == "nightly-buildworld");
            Assert.Contains(await run.JournalAsync(nightly.Id), e => e.Step == "upgrade" && e.Message.Contains($"upgraded by instance {upgrade.Id}", StringComparison.Ordinal));
            var upgradeJournal = await run.JournalAsync(upgrade.Id);
            Assert.Single(upgradeJournal, e => e.Kind == JournalEntryKind.JobStarted && e.Step == "installworld");
            Assert.Equal("FreeBSD 14.1-RELEASE-p1", (await File.ReadAllTextAsync(Path.Combine(run.JailRoot, "usr/share/misc/lab-world-version"))).Trim());
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            Assert.Contains("ServerC", await http.GetStringAsync(new Uri("http://127.0.20.102/")), StringComparison.Ordinal);

            serve.Terminate();
            Assert.Equal(0, await serve.WaitAsync(RunTimeout));
        }
        finally
        {
            serve?.Dispose();
            await run.StopJailAsync();
        }
    }

    /// <summary>
    /// <c>jailwf run nightly-buildworld</c> through serve; while it follows the nightly instance, an upgrade-jail instance that
    /// waits for an approval (the jail's /etc files) is approved through serve, as an admin would. Returns the run's result.
    /// </summary>
    private static async Task<(int Exit, string StdOut, string StdErr)> RunNightAsync(Consolidation run, string workflows, Jailwf serve)
    {
        using var night = Jailwf.Start("run", "nightly-buildworld", "--plan", run.PlanFile, "--db", run.Database, "--workflows", workflows, "--poll", "0.3");
        var approved = new HashSet<string>(StringComparer.Ordinal);
        await Wait.UntilAsync(
            async () =>
            {
                Assert.False(serve.HasExited, $"serve exited:\n{serve.StdOut}\n{serve.StdErr}");
                foreach (var waiting in (await run.InstancesAsync()).Where(i => i.Definition == "upgrade-jail" && i.State == InstanceState.AwaitingApproval && !approved.Contains(i.Id)))
                {
                    var approve = await Jailwf.RunAsync(RunTimeout, "approve", waiting.Id, "--reason", "nightly e2e: the jail's accounts, motd and aliases are kept", "--db", run.Database, "--poll", "0.3");
                    Assert.True(approve.Exit is 0 or 4, $"approve: exit {approve.Exit}\n{approve.StdOut}\n{approve.StdErr}");
                    Assert.Contains($"through jailwf serve, pid {serve.Pid}", approve.StdOut, StringComparison.Ordinal);
                    approved.Add(waiting.Id);
                }

                return night.HasExited;
            },
            RunTimeout,
            "the nightly run to end");
        return (await night.WaitAsync(RunTimeout), night.StdOut, night.StdErr);
    }

    /// <summary>
    /// The shipped definitions with nightly-buildworld's maintenance window open around the clock for this test (as its next
    /// version): from a minute ago to two minutes ago (over midnight), so it is open now and for the next 23 h 59 min.
    /// </summary>
    private static string WriteWorkflowsWithOpenWindow(string directory)
    {
        var workflows = Directory.CreateDirectory(Path.Combine(directory, "workflows")).FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "workflows"), "*.json"))
        {
            File.Copy(file, Path.Combine(workflows, Path.GetFileName(file)), overwrite: true);
        }

        var path = Path.Combine(workflows, "nightly-buildworld.json");
        var definition = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var window = definition["steps"]!.AsArray().Single(s => (string?)s!["activity"] == "WaitForWindow")!["inputs"]!.AsObject();
        var now = DateTimeOffset.UtcNow;
        window["start"] = now.AddMinutes(-1).ToString("HH:mm", CultureInfo.InvariantCulture);
        window["end"] = now.AddMinutes(-2).ToString("HH:mm", CultureInfo.InvariantCulture);
        window["timeZone"] = "UTC";

        // A changed definition is a new version (the engine stored the shipped version 1 when the consolidation ran).
        definition["version"] = (int)definition["version"]! + 1;
        File.WriteAllText(path, definition.ToJsonString());
        return workflows;
    }
}
