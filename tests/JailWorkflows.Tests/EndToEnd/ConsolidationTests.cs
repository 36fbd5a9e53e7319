using System.Net.Http;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Tests.Lab;
using JailWorkflows.Tests.Support;
using WorkflowCore.Models;

namespace JailWorkflows.Tests.EndToEnd;

/// <summary>Whole consolidations on the lab, through the real jailwf process, the jail host's sshd and real dump | restore.</summary>
[Collection(LabCollection.Name)]
public sealed class ConsolidationTests(LabFixture lab)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(5);

    [LabFact]
    public async Task A_legacy_server_is_consolidated_over_real_ssh_and_its_web_page_answers_from_the_jail()
    {
        var run = Consolidation.Create(lab, "serverc", "ServerC", "serverc-e2e", "127.0.20.13");
        try
        {
            // The run stops for a person: ServerC's master.passwd, group, motd and mail aliases differ from the new world's.
            var waits = await Jailwf.RunAsync(RunTimeout, run.RunArgs);
            Assert.True(waits.Exit == 4, $"exit {waits.Exit}\n{waits.StdOut}\n{waits.StdErr}");
            Assert.Contains("waits for approval at step mergeetc", waits.StdOut, StringComparison.Ordinal);
            var result = await Jailwf.RunAsync(RunTimeout, run.ApproveArgs((await run.InstanceAsync())!.Id));
            Assert.True(result.Exit == 0, $"exit {result.Exit}\n{result.StdOut}\n{result.StdErr}");

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var page = await http.GetStringAsync(new Uri("http://127.0.20.13/"));
            Assert.Contains("ServerC", page, StringComparison.Ordinal);

            // The tree is a jail's: stripped, world installed, /etc merged; restoresymtable gone from every partition.
            Assert.Empty(Directory.GetFiles(run.JailRoot, "restoresymtable", SearchOption.AllDirectories));
            Assert.False(Directory.Exists(Path.Combine(run.JailRoot, "usr/src")));
            Assert.False(Directory.Exists(Path.Combine(run.JailRoot, "boot")));
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(run.JailRoot, "dev")));
            var rcConf = await File.ReadAllTextAsync(Path.Combine(run.JailRoot, "etc/rc.conf"));
            Assert.DoesNotContain("ifconfig_", rcConf, StringComparison.Ordinal);
            Assert.Contains("apache_enable", rcConf, StringComparison.Ordinal);

            var instance = await run.InstanceAsync();
            Assert.Equal(WorkflowStatus.Complete, instance!.Status);
            Assert.All(instance.Steps, s => Assert.Equal(StepState.Done, s.State));

            // What an admin reads afterwards: list, status and the journal, through the CLI.
            var list = await Jailwf.RunAsync(RunTimeout, "list", "--db", run.Database);
            Assert.Equal(0, list.Exit);
            Assert.Contains(instance.Id, list.StdOut, StringComparison.Ordinal);
            Assert.Contains("Complete", list.StdOut, StringComparison.Ordinal);
            var status = await Jailwf.RunAsync(RunTimeout, "status", instance.Id[..8], "--db", run.Database);
            Assert.Equal(0, status.Exit);
            Assert.Contains("ProbeFirst", status.StdOut, StringComparison.Ordinal);
            var logs = await Jailwf.RunAsync(RunTimeout, "logs", instance.Id, "--db", run.Database);
            Assert.Equal(0, logs.Exit);
            Assert.Contains("JobStarted", logs.StdOut, StringComparison.Ordinal);
            Assert.Contains("DUMP IS DONE", logs.StdOut, StringComparison.Ordinal);
            Assert.Contains("rc.conf: removed", logs.StdOut, StringComparison.Ordinal);
            Assert.Contains("service apache: up", logs.StdOut, StringComparison.Ordinal);
            Assert.Contains("services up: apache", logs.StdOut, StringComparison.Ordinal);

            // Without cutover in the plan the same definition skips both cutover steps, saying why.
            var journal = await run.JournalAsync(instance.Id);
            Assert.Contains(journal, e => e.Step == "cutover-approval" && e.Message.StartsWith("not requested", StringComparison.Ordinal));
            Assert.Contains(journal, e => e.Step == "cutover" && e.Message.StartsWith("not requested", StringComparison.Ordinal));
            Assert.DoesNotContain(journal, e => e.Kind == JournalEntryKind.ApprovalRequested && e.Step == "cutover-approval");
            Assert.DoesNotContain(journal, e => e.Kind == JournalEntryKind.JobStarted && e.Step == "cutover");
        }
        finally
        {
            await run.StopJailAsync();
        }
    }

    [LabFact]
    public async Task A_consolidation_killed_with_SIGKILL_during_buildworld_and_during_usr_resumes_without_redoing_work()
    {
        // Reference: the same server consolidated without interruption.
        var reference = Consolidation.Create(lab, "ref", "ServerA", "servera-ref", "127.0.20.11", buildStageSeconds: 0.1);
        var killed = Consolidation.Create(lab, "killed", "ServerA", "servera-kill", "127.0.20.12", buildStageSeconds: 1.5);
        try
        {
            var refRun = await reference.RunToEndAsync(RunTimeout, reference.RunArgs);
            Assert.True(refRun.Exit == 0, $"reference run: exit {refRun.Exit}\n{refRun.StdOut}\n{refRun.StdErr}");
            await reference.StopJailAsync();

            // 1. SIGKILL while buildworld runs (beside the transfer, which it does not touch: it builds outside the jail root).
            string instance;
            using (var first = Jailwf.Start(killed.RunArgs))
            {
                var view = await Wait.UntilAsync(killed.InstanceAsync, TimeSpan.FromMinutes(1), "the instance to be created");
                instance = view.Id;
                await WaitForJobStartAsync(killed, instance, "world-", first);
                first.Kill();
            }

            // 2. Resume, then SIGKILL again while /usr (the second partition) is being transferred.
            using (var second = Jailwf.Start(killed.ResumeArgs(instance)))
            {
                await WaitForJobStartAsync(killed, instance, "-p1-", second);
                second.Kill();
            }

            // 3. Resume to the end.
            using (var third = Jailwf.Start(killed.ResumeArgs(instance)))
            {
                var (exit, stdout, stderr) = await killed.FinishAsync(third, RunTimeout);
                Assert.True(exit == 0, $"final resume: exit {exit}\n{stdout}\n{stderr}");
            }

            var journal = await killed.JournalAsync(instance);
            var started = journal.Where(e => e.Kind == JournalEntryKind.JobStarted).Select(e => e.JobId!).ToList();
            Assert.Single(started, j => j.Contains("-p0-", StringComparison.Ordinal)); // "/" transferred exactly once
            Assert.Single(started, j => j.StartsWith("world-", StringComparison.Ordinal)); // buildworld started once
            var world = Assert.Single(journal, e => e.Kind == JournalEntryKind.JobFinished && e.JobId!.StartsWith("world-", StringComparison.Ordinal));
            Assert.Equal(0, world.ExitStatus); // the one build, re-attached after the kill, finished
            Assert.Equal(WorkflowStatus.Complete, (await killed.InstanceAsync())!.Status);

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            Assert.Contains("ServerA", await http.GetStringAsync(new Uri("http://127.0.20.12/")), StringComparison.Ordinal);
            await killed.StopJailAsync();

            var expected = Consolidation.Tree(reference.JailRoot);
            var actual = Consolidation.Tree(killed.JailRoot);
            Assert.True(expected.SetEquals(actual), "jail trees differ:\nonly in the reference:\n  " + string.Join("\n  ", expected.Except(actual).Take(20)) + "\nonly after the kills:\n  " + string.Join("\n  ", actual.Except(expected).Take(20)));
        }
        finally
        {
            await reference.StopJailAsync();
            await killed.StopJailAsync();
        }
    }

    [LabFact]
    public async Task A_changed_host_key_stops_the_run_naming_both_fingerprints_and_nothing_is_executed()
    {
        var run = Consolidation.Create(lab, "wrongkey", "ServerC", "serverc-wk", "127.0.20.14");

        // As after a reinstall: the jail host presents another ed25519 key than the one pinned in the plan.
        var keyFile = Path.Combine(run.Directory, "other_host_key");
        var keygen = await Local.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile]);
        Assert.True(keygen.ExitCode == 0, keygen.ToString());
        var otherKey = string.Join(' ', (await File.ReadAllTextAsync(keyFile + ".pub")).Split(' ').Take(2));
        var plan = run.Plan with
        {
            JailHost = run.Plan.JailHost with { Ssh = run.Plan.JailHost.Ssh! with { HostKey = otherKey } },
        };
        await File.WriteAllTextAsync(run.PlanFile, JailWorkflows.Plans.PlanWriter.ToYaml(plan));

        var (exit, _, stderr) = await Jailwf.RunAsync(RunTimeout, run.RunArgs);

        Assert.Equal(3, exit);
        Assert.Contains("127.0.10.1", stderr, StringComparison.Ordinal);
        Assert.Contains(JailWorkflows.Hosts.SshHost.Fingerprint(plan.JailHost.Ssh!.HostKey), stderr, StringComparison.Ordinal);
        Assert.Contains(JailWorkflows.Hosts.SshHost.Fingerprint(lab.Info.JailHost.Ssh.HostKey), stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(run.Database), "no engine may start");
        Assert.False(Directory.Exists(run.Plan.JailHost.JobsDir), "no host job may run");
        Assert.False(Directory.Exists(run.Plan.JailHost.JailsDir), "no jail root may be made");
    }

    [LabTheory]
    [InlineData("preflight", 8, false)]
    [InlineData("transfer", 1, false)]
    [InlineData("strip", 2, false)]
    [InlineData("buildworld", 3, false)]
    [InlineData("installworld", 4, false)]
    [InlineData("mergeetc", 5, false)]
    [InlineData("start", 6, false)]
    [InlineData("verify", 7, false)]
    [InlineData("cutover-approval", 30, true)]
    [InlineData("cutover", 31, true)]
    public async Task Every_activity_survives_a_SIGKILL_of_the_engine_once_it_has_started(string step, int n, bool cutover)
    {
        // With cutover the source (not live here: nothing changes on it) gets a level-1 delta: the tree must still equal
        // the reference, with restoresymtable gone.
        var reference = await ReferenceTreeAsync();
        // The directory is named by number: jls(8)'s default Path column is cut at 74 characters, and StartJail reads it.
        var run = Consolidation.Create(lab, "kill-" + n, "ServerB", "serverb-k" + n, $"127.0.20.{30 + n}", buildStageSeconds: 0.3, cutover: cutover);
        try
        {
            string instance;
            var current = Jailwf.Start(run.RunArgs);
            try
            {
                instance = (await Wait.UntilAsync(run.InstanceAsync, TimeSpan.FromMinutes(1), "the instance to be created")).Id;
                var approved = false;
                await Wait.UntilAsync(
                    async () =>
                    {
                        if (current.HasExited)
                        {
                            // The steps after mergeetc are reached through the approval of the jail's /etc files, the
                            // cutover through the approval of its downtime; a kill lands on a waiting cutover-approval.
                            if (step == "cutover-approval" && current.ExitCode == 4)
                            {
                                return true;
                            }

                            if (current.ExitCode != 4 || approved)
                            {
                                throw new InvalidOperationException($"jailwf exited before step {step} started:\n{current.StdOut}\n{current.StdErr}");
                            }

                            current.Dispose();
                            current = Jailwf.Start(run.ApproveArgs(instance));
                            approved = true;
                            return false;
                        }

                        return (await run.JournalAsync(instance)).Any(e => e.Kind == JournalEntryKind.StepStarted && e.Step == step);
                    },
                    TimeSpan.FromMinutes(3),
                    $"step {step} to start");
                current.Kill();
            }
            finally
            {
                current.Dispose();
            }

            using (var resumed = Jailwf.Start(run.ResumeArgs(instance)))
            {
                var (exit, stdout, stderr) = await run.FinishAsync(resumed, RunTimeout);
                Assert.True(exit == 0, $"resume after a kill in {step}: exit {exit}\n{stdout}\n{stderr}");
            }

            var journal = await run.JournalAsync(instance);
            var started = journal.Where(e => e.Kind == JournalEntryKind.JobStarted).Select(e => e.JobId!).ToList();
            Assert.Equal(started.Count, started.Distinct().Count());
            Assert.Single(started, j => j.Contains("-p0-", StringComparison.Ordinal));
            Assert.Single(started, j => j.StartsWith("world-", StringComparison.Ordinal));
            if (cutover)
            {
                // Every partition got exactly one level-1 delta (none fell back to a full pass).
                Assert.Equal(run.Plan.Servers[0].Partitions.Count, started.Count(j => j.Contains("-cutover-delta", StringComparison.Ordinal)));
                Assert.DoesNotContain(started, j => j.Contains("-cutover-full", StringComparison.Ordinal));
            }

            await run.StopJailAsync();
            Assert.Empty(Directory.GetFiles(run.JailRoot, "restoresymtable", SearchOption.AllDirectories));
            var actual = Consolidation.Tree(run.JailRoot);
            Assert.True(reference.SetEquals(actual), $"after a kill in {step} the jail tree differs:\nonly in the reference:\n  " + string.Join("\n  ", reference.Except(actual).Take(20)) + "\nonly after the kill:\n  " + string.Join("\n  ", actual.Except(reference).Take(20)));
        }
        finally
        {
            await run.StopJailAsync();
        }
    }

    private static SortedSet<string>? _referenceTree;

    /// <summary>ServerB consolidated once without interruption: the tree every interrupted run must equal.</summary>
    private async Task<SortedSet<string>> ReferenceTreeAsync()
    {
        if (_referenceTree is not null)
        {
            return _referenceTree;
        }

        var reference = Consolidation.Create(lab, "kill-reference", "ServerB", "serverb-ref", "127.0.20.30", buildStageSeconds: 0.1);
        try
        {
            var result = await reference.RunToEndAsync(RunTimeout, reference.RunArgs);
            Assert.True(result.Exit == 0, $"reference run: exit {result.Exit}\n{result.StdOut}\n{result.StdErr}");
        }
        finally
        {
            await reference.StopJailAsync();
        }

        return _referenceTree = Consolidation.Tree(reference.JailRoot);
    }

    private static async Task WaitForJobStartAsync(Consolidation run, string instance, string jobIdPart, Jailwf process)
    {
        await Wait.UntilAsync(
            async () =>
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"jailwf exited before host job '{jobIdPart}' started:\n{process.StdOut}\n{process.StdErr}");
                }

                var journal = await run.JournalAsync(instance);
                return journal.Any(e => e.Kind == JournalEntryKind.JobStarted && e.JobId!.Contains(jobIdPart, StringComparison.Ordinal));
            },
            TimeSpan.FromMinutes(3),
            $"host job '{jobIdPart}' to start");
    }
}
