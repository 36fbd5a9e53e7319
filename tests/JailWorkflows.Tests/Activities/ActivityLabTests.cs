using System.Text.RegularExpressions;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Tests.EndToEnd;
using JailWorkflows.Tests.Lab;
using JailWorkflows.Tests.Support;
using WorkflowCore.Models;

namespace JailWorkflows.Tests.Activities;

/// <summary>
/// Each activity on the lab, through the real jailwf process and the jail host's sshd, checked right after it ran
/// (definitions with only the steps under test, in a test-only workflows directory). Jail IPs 127.0.20.50-59.
/// </summary>
[Collection(LabCollection.Name)]
public sealed partial class ActivityLabTests(LabFixture lab)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(5);

    private static readonly (string, (string, string, string?)[]) TransferOnly = ("transfer-only", [("transfer", "TransferPartitions", null)]);
    private static readonly (string, (string, string, string?)[]) TransferAllowingDowngrade = ("transfer-allow", [("transfer", "TransferPartitions", """{ "allowInconsistentDump": true }""")]);
    private static readonly (string, (string, string, string?)[]) StripOnly = ("strip-only", [("strip", "Strip", null)]);
    private static readonly (string, (string, string, string?)[]) BuildOnly = ("build-only", [("buildworld", "BuildWorld", null)]);
    private static readonly (string, (string, string, string?)[]) Prepare = ("prepare", [("transfer", "TransferPartitions", null), ("strip", "Strip", null), ("buildworld", "BuildWorld", null)]);
    private static readonly (string, (string, string, string?)[]) InstallOnly = ("install-only", [("installworld", "InstallWorld", null)]);
    private static readonly (string, (string, string, string?)[]) ToInstalled = ("to-installed", [("transfer", "TransferPartitions", null), ("strip", "Strip", null), ("buildworld", "BuildWorld", null), ("installworld", "InstallWorld", null)]);
    private static readonly (string, (string, string, string?)[]) MergeAndStart = ("merge-start", [("mergeetc", "MergeEtc", """{ "watchdogSeconds": 3 }"""), ("start", "StartJail", null)]);

    [LabFact]
    public async Task TransferPartitions_keeps_hard_links_sparse_files_and_flags_and_a_restore_killed_halfway_is_wiped_and_redone()
    {
        var reference = ActivityBed.Create(lab, "act-xfer-ref", "ServerA", "wd-xfer-ref", "127.0.20.50", null, TransferOnly);
        var killed = ActivityBed.Create(lab, "act-xfer-kill", "ServerA", "wd-xfer-kill", "127.0.20.51", null, TransferOnly);
        var knob = Path.Combine(lab.Info.Server("ServerA").Directory, "etc/lab.conf");
        try
        {
            var run = await Jailwf.RunAsync(RunTimeout, reference.RunArgs("transfer-only"));
            Assert.True(run.Exit == 0, $"exit {run.Exit}\n{run.StdOut}\n{run.StdErr}");
            await AssertSurvivorsAsync(reference.JailRoot, immutables: true);

            // The dump of /usr stops after 128 KiB (lab knob) while restore has begun: kill the host job there.
            await File.WriteAllTextAsync(knob, "LAB_DUMP_PAUSE=/usr\nLAB_DUMP_PAUSE_AFTER_KB=128\n");
            string instance;
            using (var first = Jailwf.Start(killed.RunArgs("transfer-only")))
            {
                instance = (await killed.NewestAsync("transfer-only")).Id;
                var usr = Path.Combine(killed.JailRoot, "usr");
                var job = await killed.WaitForJobAsync(instance, "-p1-a0", first, async () =>
                    (await killed.JournalAsync(instance)).Any(e => e.Kind == JournalEntryKind.Progress && e.Message.StartsWith("partition /usr:", StringComparison.Ordinal))
                    && Directory.Exists(usr) && Directory.EnumerateFileSystemEntries(usr).Any());
                var afterKill = await killed.KillJobAsync(job);
                Assert.Equal(JailWorkflows.Hosts.HostJobStatus.Lost, afterKill.Status);
                var exit = await first.WaitAsync(RunTimeout);
                Assert.True(exit == 1, $"a killed transfer is an incident: exit {exit}\n{first.StdOut}\n{first.StdErr}");
            }

            var journal = await killed.JournalAsync(instance);
            var progress = journal.Where(e => e.Kind == JournalEntryKind.Progress).ToList();
            Assert.NotEmpty(progress);
            Assert.All(progress, p => Assert.Matches(@"^partition /usr: [0-9]+(\.[0-9]+)?% done, 0:01 left$", p.Message));
            Assert.Equal(WorkflowStatus.Suspended, (await killed.ViewAsync(instance)).Status);
            Assert.Contains(journal, e => e.Kind == JournalEntryKind.StepFailed && e.Message.Contains("is lost", StringComparison.Ordinal));
            Assert.False(File.Exists(Path.Combine(killed.Plan.JailHost.StateDir, "jails/wd-xfer-kill/partitions/usr.done")));

            File.Delete(knob);
            var resumed = await Jailwf.RunAsync(RunTimeout, killed.ResumeArgs(instance));
            Assert.True(resumed.Exit == 0, $"resume: exit {resumed.Exit}\n{resumed.StdOut}\n{resumed.StdErr}");

            journal = await killed.JournalAsync(instance);
            var started = journal.Where(e => e.Kind == JournalEntryKind.JobStarted).Select(e => e.JobId!).ToList();
            Assert.Equal(["-p0-a0", "-p1-a0", "-p1-a1", "-p2-a0"], started.Select(j => j[j.IndexOf("-p", StringComparison.Ordinal)..]).ToArray());
            Assert.Contains(journal, e => e.Message == "partition /usr: transfer into " + Path.Combine(killed.JailRoot, "usr") + " (attempt 2)");
            await AssertSurvivorsAsync(killed.JailRoot, immutables: true);
            AssertSameTree(Consolidation.Tree(reference.JailRoot), Consolidation.Tree(killed.JailRoot), "after the killed restore was redone");
        }
        finally
        {
            File.Delete(knob);
        }
    }

    [LabFact]
    public async Task TransferPartitions_on_a_5x_source_makes_a_downgraded_snapshot_dump_an_incident_unless_allowed()
    {
        var bed = ActivityBed.Create(lab, "act-xfer-5x", "ServerC", "wd-xfer-5x", "127.0.20.52", null, TransferOnly, TransferAllowingDowngrade);
        var source = bed.Plan.Servers[0] with { Release = "5.5-RELEASE" };
        var plan = bed.WritePlan("plan-5x.yaml", bed.Plan with { Servers = [source] });
        var allowedPlan = bed.WritePlan("plan-5x-allowed.yaml", bed.Plan with { Servers = [source with { Jail = source.Jail with { Name = "wd-xfer-5x-ok", Ip = "127.0.20.53" } }] });

        // ServerC's dump(8) answers as 5.5-RELEASE's would (the lab's 5.x dump behaviour; its partitions have no .snap).
        var hostConf = Path.Combine(lab.Info.Server("ServerC").Directory, "etc/lab-host.conf");
        var original = await File.ReadAllTextAsync(hostConf);
        await File.WriteAllTextAsync(hostConf, original.Replace("4.7-RELEASE", "5.5-RELEASE", StringComparison.Ordinal));
        try
        {
            var refused = await Jailwf.RunAsync(RunTimeout, bed.RunArgs("transfer-only", plan));
            Assert.True(refused.Exit == 1, $"exit {refused.Exit}\n{refused.StdOut}\n{refused.StdErr}");
            Assert.Contains("dump downgraded, -L ignored", refused.StdErr, StringComparison.Ordinal);
            Assert.Contains("not snapshot-consistent", refused.StdErr, StringComparison.Ordinal);
            var instance = (await bed.InstancesAsync()).Single();
            Assert.Equal(WorkflowStatus.Suspended, instance.Status);
            var journal = await bed.JournalAsync(instance.Id);
            Assert.Contains(journal, e => e.Kind == JournalEntryKind.JobOutput && e.Message.Contains("-L requested but snapshot location /.snap", StringComparison.Ordinal));
            Assert.DoesNotContain(journal, e => e.Message.StartsWith("partition / transferred", StringComparison.Ordinal));
            Assert.False(File.Exists(Path.Combine(bed.Plan.JailHost.StateDir, "jails/wd-xfer-5x/partitions/root.done")));

            var allowed = await Jailwf.RunAsync(RunTimeout, bed.RunArgs("transfer-allow", allowedPlan));
            Assert.True(allowed.Exit == 0, $"exit {allowed.Exit}\n{allowed.StdOut}\n{allowed.StdErr}");
            var accepted = (await bed.InstancesAsync()).Single(v => v.Definition == "transfer-allow");
            var warnings = (await bed.JournalAsync(accepted.Id)).Where(e => e.Kind == JournalEntryKind.Warning).Select(e => e.Message).ToList();
            Assert.Contains("partition /: dump downgraded, -L ignored (not snapshot-consistent); accepted because allowInconsistentDump is set", warnings);
            Assert.Contains("partition /usr: dump downgraded, -L ignored (not snapshot-consistent); accepted because allowInconsistentDump is set", warnings);
        }
        finally
        {
            await File.WriteAllTextAsync(hostConf, original);
        }
    }

    [LabFact]
    public async Task Strip_removes_immutable_boot_and_src_reduces_rc_conf_line_by_line_and_a_second_run_changes_nothing()
    {
        var bed = ActivityBed.Create(lab, "act-strip", "ServerB", "wd-strip", "127.0.20.54", null, TransferOnly, StripOnly);
        var transfer = await Jailwf.RunAsync(RunTimeout, bed.RunArgs("transfer-only"));
        Assert.True(transfer.Exit == 0, $"exit {transfer.Exit}\n{transfer.StdOut}\n{transfer.StdErr}");
        foreach (var immutable in new[] { "boot/loader", "usr/src/COPYRIGHT" })
        {
            Assert.Contains('i', await LsattrAsync(Path.Combine(bed.JailRoot, immutable)));
        }

        var first = await Jailwf.RunAsync(RunTimeout, bed.RunArgs("strip-only"));
        Assert.True(first.Exit == 0, $"exit {first.Exit}\n{first.StdOut}\n{first.StdErr}");
        foreach (var gone in new[] { "boot", "usr/src", "usr/obj", "kernel", "kernel.old", "kernel.GENERIC" })
        {
            Assert.False(Path.Exists(Path.Combine(bed.JailRoot, gone)), gone);
        }

        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(bed.JailRoot, "usr/ports")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(bed.JailRoot, "dev")));
        Assert.Equal("555", await StatAsync("%a", Path.Combine(bed.JailRoot, "dev")));
        var rcConf = await File.ReadAllTextAsync(Path.Combine(bed.JailRoot, "etc/rc.conf"));
        var backup = await File.ReadAllTextAsync(Path.Combine(bed.Plan.JailHost.StateDir, "jails/wd-strip/etc.orig/rc.conf"));
        Assert.Contains("ifconfig_fxp0=", backup, StringComparison.Ordinal);

        var strip = (await bed.InstancesAsync()).Single(v => v.Definition == "strip-only");
        var journal = (await bed.JournalAsync(strip.Id)).Select(e => e.Message).ToList();
        foreach (var removed in new[] { "hostname=", "ifconfig_fxp0=", "defaultrouter=", "firewall_enable=", "firewall_type=", "keymap=", "ntpd_enable=", "ntpd_flags=", "snmpd_flags=" })
        {
            Assert.DoesNotContain(removed, rcConf, StringComparison.Ordinal);
            Assert.Contains(journal, m => Regex.IsMatch(m, @"^rc\.conf: removed line [0-9]+ \(.+\): " + Regex.Escape(removed)));
        }

        string[] kept = ["sshd_enable=\"YES\"", "apache_enable=\"YES\"", "apache_flags=\"-DSSL -DSNAKEOIL\"", "sendmail_enable=\"NONE\"", "inetd_enable=\"NO\"", "snmpd_enable=\"NO\""];
        foreach (var line in kept)
        {
            Assert.Contains(line, rcConf, StringComparison.Ordinal);
            Assert.Contains("rc.conf: kept: " + line, journal);
        }

        Assert.DoesNotContain("/dev/ad0s1a", await File.ReadAllTextAsync(Path.Combine(bed.JailRoot, "etc/fstab")), StringComparison.Ordinal);

        // Strip again on the same jail root: same tree, success, nothing removed this time.
        var before = Consolidation.Tree(bed.JailRoot);
        var second = await Jailwf.RunAsync(RunTimeout, bed.RunArgs("strip-only"));
        Assert.True(second.Exit == 0, $"second strip: exit {second.Exit}\n{second.StdOut}\n{second.StdErr}");
        AssertSameTree(before, Consolidation.Tree(bed.JailRoot), "after a second strip");
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(bed.JailRoot, "dev")));
        var again = (await bed.InstancesAsync()).First(v => v.Definition == "strip-only");
        Assert.NotEqual(strip.Id, again.Id);
        var secondJournal = (await bed.JournalAsync(again.Id)).Select(e => e.Message).ToList();
        Assert.DoesNotContain(secondJournal, m => m.StartsWith("rc.conf: removed", StringComparison.Ordinal));
        Assert.Equal(journal.Where(m => m.StartsWith("rc.conf: kept", StringComparison.Ordinal)), secondJournal.Where(m => m.StartsWith("rc.conf: kept", StringComparison.Ordinal)));
        Assert.Equal(backup, await File.ReadAllTextAsync(Path.Combine(bed.Plan.JailHost.StateDir, "jails/wd-strip/etc.orig/rc.conf")));
    }

    [LabFact]
    public async Task BuildWorld_failed_halfway_resumes_without_clean_keeping_finished_stages_and_a_finished_world_is_reused()
    {
        var bed = ActivityBed.Create(lab, "act-build", "ServerC", "wd-build", "127.0.20.55", 0.2, BuildOnly);
        var labConf = Path.Combine(bed.Plan.JailHost.SrcDir, "lab.conf");
        await File.WriteAllTextAsync(labConf, "LAB_STAGE_SECONDS=0.2\nLAB_FAIL_AT=4.2\n");
        var worldDir = bed.Plan.JailHost.ObjDir + bed.Plan.JailHost.SrcDir + "/world";
        var stampFile = Path.Combine(bed.Plan.JailHost.ObjDir, ".jailwf-world-stamp");

        var failed = await Jailwf.RunAsync(RunTimeout, bed.RunArgs("build-only"));
        Assert.True(failed.Exit == 1, $"exit {failed.Exit}\n{failed.StdOut}\n{failed.StdErr}");
        Assert.Contains("NO_CLEAN", failed.StdErr, StringComparison.Ordinal);
        Assert.False(File.Exists(stampFile), "the stamp is written only when the build finished");
        string[] finished = ["1.1", "1.2", "2.3", "3", "4.1"];
        var times = finished.ToDictionary(s => s, s => File.GetLastWriteTimeUtc(Path.Combine(worldDir, ".stamps/stage." + s)));
        Assert.All(finished, s => Assert.True(File.Exists(Path.Combine(worldDir, ".stamps/stage." + s)), s));
        Assert.False(File.Exists(Path.Combine(worldDir, ".stamps/stage.4.2")));
        var instance = (await bed.InstancesAsync()).Single().Id;

        await File.WriteAllTextAsync(labConf, "LAB_STAGE_SECONDS=0.2\n");
        var resumed = await Jailwf.RunAsync(RunTimeout, bed.ResumeArgs(instance));
        Assert.True(resumed.Exit == 0, $"resume: exit {resumed.Exit}\n{resumed.StdOut}\n{resumed.StdErr}");

        var journal = await bed.JournalAsync(instance);
        var jobs = journal.Where(e => e.Kind == JournalEntryKind.JobStarted).Select(e => e.JobId!).ToList();
        Assert.Equal(2, jobs.Count);
        Assert.EndsWith("-a0", jobs[0], StringComparison.Ordinal);
        Assert.EndsWith("-a1", jobs[1], StringComparison.Ordinal);
        Assert.DoesNotContain("WITHOUT_CLEAN", await File.ReadAllTextAsync(Path.Combine(bed.Plan.JailHost.JobsDir, jobs[0], "script")), StringComparison.Ordinal);
        Assert.Contains(" WITHOUT_CLEAN=yes buildworld", await File.ReadAllTextAsync(Path.Combine(bed.Plan.JailHost.JobsDir, jobs[1], "script")), StringComparison.Ordinal);
        Assert.Contains(journal, e => e.JobId == jobs[0] && e.Kind == JournalEntryKind.JobOutput && e.Message.Contains("cleaning up the object tree", StringComparison.Ordinal));
        Assert.DoesNotContain(journal, e => e.JobId == jobs[1] && e.Kind == JournalEntryKind.JobOutput && e.Message.Contains("cleaning up the object tree", StringComparison.Ordinal));
        Assert.All(finished, s => Assert.Equal(times[s], File.GetLastWriteTimeUtc(Path.Combine(worldDir, ".stamps/stage." + s))));
        Assert.True(File.Exists(Path.Combine(worldDir, ".stamps/world.complete")));
        Assert.Contains("release=14.1-RELEASE", await File.ReadAllTextAsync(stampFile), StringComparison.Ordinal);

        // A second consolidation on the same jail host (same src and objdir) reuses the world.
        var other = ActivityBed.Create(lab, "act-build-2", "ServerB", "wd-build2", "127.0.20.56", null, BuildOnly);
        var otherPlan = other.WritePlan("plan-same-world.yaml", other.Plan with
        {
            JailHost = other.Plan.JailHost with { SrcDir = bed.Plan.JailHost.SrcDir, ObjDir = bed.Plan.JailHost.ObjDir },
        });
        var reuse = await Jailwf.RunAsync(RunTimeout, other.RunArgs("build-only", otherPlan));
        Assert.True(reuse.Exit == 0, $"exit {reuse.Exit}\n{reuse.StdOut}\n{reuse.StdErr}");
        var reused = await other.JournalAsync((await other.InstancesAsync()).Single().Id);
        Assert.Contains(reused, e => e.Kind == JournalEntryKind.Info && e.Message.EndsWith("; reused", StringComparison.Ordinal));
        Assert.DoesNotContain(reused, e => e.Kind == JournalEntryKind.JobStarted);
    }

    [LabFact]
    public async Task InstallWorld_premerges_accounts_is_refused_while_the_jail_runs_and_repairs_a_half_finished_install()
    {
        var bed = ActivityBed.Create(lab, "act-install", "ServerC", "wd-install", "127.0.20.57", 0.1, Prepare, InstallOnly);
        var labConf = Path.Combine(bed.Plan.JailHost.SrcDir, "lab.conf");
        var prepared = await Jailwf.RunAsync(RunTimeout, bed.RunArgs("prepare"));
        Assert.True(prepared.Exit == 0, $"exit {prepared.Exit}\n{prepared.StdOut}\n{prepared.StdErr}");
        var jail = bed.Plan.Servers[0].Jail;
        var confPath = Path.Combine(bed.Plan.JailHost.JailConfDir, jail.Name + ".conf");
        try
        {
            // The jail runs: installworld is refused, nothing is installed.
            Directory.CreateDirectory(bed.Plan.JailHost.JailConfDir);
            await File.WriteAllTextAsync(confPath, JailConf.Render(jail, JailWorkflows.FreeBsd.JailRoot.Create(bed.Plan.JailHost.JailsDir, jail.Name)));
            var start = await LabSsh.RunAsync(bed.Plan.JailHost.Ssh!, Jail.Create(confPath, jail.Name));
            Assert.True(start.ExitCode == 0, start.ToString());
            Assert.True((await LabSsh.RunAsync(bed.Plan.JailHost.Ssh!, Jls.ForJail(jail.Name))).ExitCode == 0, "the jail runs");

            var refused = await Jailwf.RunAsync(RunTimeout, bed.RunArgs("install-only"));
            Assert.True(refused.Exit == 1, $"exit {refused.Exit}\n{refused.StdOut}\n{refused.StdErr}");
            Assert.Contains("jail wd-install is running: installworld into a running jail is refused", refused.StdErr, StringComparison.Ordinal);
            var instance = (await bed.InstancesAsync()).Single(v => v.Definition == "install-only").Id;
            Assert.DoesNotContain(await bed.JournalAsync(instance), e => e.Kind == JournalEntryKind.JobStarted);
            Assert.False(File.Exists(Path.Combine(bed.JailRoot, "bin/freebsd-version")));
            await bed.Consolidation.StopJailAsync();

            // Resume; kill the installworld job between its two halves (libraries in, the rest not).
            await File.WriteAllTextAsync(labConf, "LAB_STAGE_SECONDS=120\n");
            using (var resumed = Jailwf.Start(bed.ResumeArgs(instance)))
            {
                var job = await bed.WaitForJobAsync(instance, "-installworld-a0", resumed, async () =>
                    (await bed.JournalAsync(instance)).Any(e => e.Kind == JournalEntryKind.JobOutput && e.Message == ">>> Libraries installed; installing everything else"));
                await bed.KillJobAsync(job);
                var exit = await resumed.WaitAsync(RunTimeout);
                Assert.True(exit == 1, $"the killed installworld is an incident: exit {exit}\n{resumed.StdOut}\n{resumed.StdErr}");
            }

            Assert.Contains("lab libc", await File.ReadAllTextAsync(Path.Combine(bed.JailRoot, "lib/libc.so.7")), StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(bed.JailRoot, "bin/freebsd-version")), "half-finished: only the libraries are in");
            var halfway = Consolidation.Tree(bed.JailRoot);

            // The accounts were pre-merged before installworld: the new world's users added, the jail's own kept.
            var masterPasswd = await File.ReadAllTextAsync(Path.Combine(bed.JailRoot, "etc/master.passwd"));
            Assert.Contains("admin:$1$labsalt$k3J0y0m8QKc1o0V8r7b1l/:1001:1001::0:0:", masterPasswd, StringComparison.Ordinal);
            Assert.Contains("root:$1$labsalt$Qf0mTq3t5lPq9mJ1c1uY6.:0:0::0:0:Charlie &:/root:/bin/csh", masterPasswd, StringComparison.Ordinal);
            Assert.Contains("\n_pflogd:*:64:64::0:0:pflogd privsep user:/var/empty:/usr/sbin/nologin\n", masterPasswd, StringComparison.Ordinal);
            Assert.Contains("\n_dhcp:*:65:\n", await File.ReadAllTextAsync(Path.Combine(bed.JailRoot, "etc/group")), StringComparison.Ordinal);
            Assert.Contains("\n_pflogd:*:64:64:", await File.ReadAllTextAsync(Path.Combine(bed.JailRoot, "etc/passwd")), StringComparison.Ordinal);
            var journal = await bed.JournalAsync(instance);
            Assert.Contains(journal, e => e.Message.StartsWith("pre-merge etc/master.passwd (mergemaster -p): added ", StringComparison.Ordinal) && e.Message.Contains("_pflogd", StringComparison.Ordinal));
            Assert.Contains(journal, e => e.Message.StartsWith("pwd_mkdb -d ", StringComparison.Ordinal));

            await File.WriteAllTextAsync(labConf, "LAB_STAGE_SECONDS=0.1\n");
            var repaired = await Jailwf.RunAsync(RunTimeout, bed.ResumeArgs(instance));
            Assert.True(repaired.Exit == 0, $"resume: exit {repaired.Exit}\n{repaired.StdOut}\n{repaired.StdErr}");

            // The repaired tree is the half-finished one with the whole world laid over it.
            var world = Consolidation.Tree(bed.Plan.JailHost.ObjDir + bed.Plan.JailHost.SrcDir + "/world/root");
            var expected = Overlay(halfway, world);
            AssertSameTree(expected, Consolidation.Tree(bed.JailRoot), "after the half-finished installworld was repaired");
            Assert.Contains("-installworld-a1", (await bed.JournalAsync(instance)).Last(e => e.Kind == JournalEntryKind.JobStarted).JobId, StringComparison.Ordinal);
        }
        finally
        {
            await bed.Consolidation.StopJailAsync();
        }
    }

    [LabFact]
    public async Task MergeEtc_drops_boot_has_a_watchdog_leaves_an_etcupdate_baseline_and_waits_for_an_approval_and_conflict_markers_block_the_start()
    {
        var bed = ActivityBed.Create(lab, "act-merge", "ServerC", "wd-merge", "127.0.20.58", 0.1, ToInstalled, MergeAndStart);
        var knob = Path.Combine(lab.Info.JailHost.Directory, "etc/lab.conf");
        try
        {
            var installed = await Jailwf.RunAsync(RunTimeout, bed.RunArgs("to-installed"));
            Assert.True(installed.Exit == 0, $"exit {installed.Exit}\n{installed.StdOut}\n{installed.StdErr}");

            // mergemaster waits on a prompt nobody answers: the watchdog (3 s without output) kills it, an incident.
            await File.WriteAllTextAsync(knob, "MERGEMASTER_LAB_PROMPT=hang\n");
            var hung = await Jailwf.RunAsync(RunTimeout, bed.RunArgs("merge-start"));
            Assert.True(hung.Exit == 1, $"exit {hung.Exit}\n{hung.StdOut}\n{hung.StdErr}");
            Assert.Contains("watchdog", hung.StdErr, StringComparison.Ordinal);
            Assert.Contains("printed nothing for 3 s", hung.StdErr, StringComparison.Ordinal);
            var instance = (await bed.InstancesAsync()).Single(v => v.Definition == "merge-start").Id;
            Assert.DoesNotContain(MergemasterProcesses(bed.JailRoot), _ => true);
            Assert.Contains(await bed.JournalAsync(instance), e => e.Kind == JournalEntryKind.JobOutput && e.Message.Contains("How to proceed? [i]", StringComparison.Ordinal));

            // Nothing to approve while it is suspended: a clear error, exit 2.
            var notWaiting = await Jailwf.RunAsync(RunTimeout, bed.ApproveArgs(instance, "too early"));
            Assert.True(notWaiting.Exit == 2, $"exit {notWaiting.Exit}\n{notWaiting.StdOut}\n{notWaiting.StdErr}");
            Assert.Contains("does not wait for an approval", notWaiting.StdErr, StringComparison.Ordinal);

            // A file with conflict markers (as a half-done merge by hand leaves it).
            File.Delete(knob);
            var hosts = Path.Combine(bed.JailRoot, "etc/hosts");
            var hostsText = await File.ReadAllTextAsync(hosts);
            await File.WriteAllTextAsync(hosts, hostsText + "<<<<<<< yours\n10.11.12.15 serverc\n=======\n127.0.20.58 serverc\n>>>>>>> new\n");
            var waits = await Jailwf.RunAsync(RunTimeout, bed.ResumeArgs(instance));
            Assert.True(waits.Exit == 4, $"waits for approval: exit {waits.Exit}\n{waits.StdOut}\n{waits.StdErr}");

            var view = await bed.ViewAsync(instance);
            Assert.Equal(WorkflowStatus.Runnable, view.Status);
            Assert.Equal(StepState.AwaitingApproval, view.Steps.Single(s => s.Id == "mergeetc").State);
            Assert.Equal("mergeetc", view.Approval!.Step);
            foreach (var file in new[] { "etc/master.passwd", "etc/group", "etc/motd", "etc/mail/aliases", "etc/hosts (conflict markers)" })
            {
                Assert.Contains(file, view.Approval.Files);
            }

            Assert.DoesNotContain(view.Approval.Files, f => f.StartsWith("etc/rc", StringComparison.Ordinal));
            var status = await Jailwf.RunAsync(RunTimeout, "status", instance, "--db", bed.Database);
            Assert.Contains("waits for approval", status.StdOut, StringComparison.Ordinal);
            Assert.Contains("etc/master.passwd", status.StdOut, StringComparison.Ordinal);
            Assert.Contains("jailwf approve " + instance, status.StdOut, StringComparison.Ordinal);

            // /boot was dropped from the temproot (a jail needs none), and etcupdate has its baseline.
            var journal = await bed.JournalAsync(instance);
            Assert.Contains(journal, e => e.Kind == JournalEntryKind.JobOutput && e.Message.StartsWith("*** jailwf: boot removed from", StringComparison.Ordinal));
            Assert.False(Directory.Exists(Path.Combine(bed.JailRoot, "boot")));
            Assert.True(File.Exists(Path.Combine(bed.JailRoot, "var/db/etcupdate/current/etc/rc")));
            Assert.Contains(journal, e => e.Kind == JournalEntryKind.ApprovalRequested && e.Message.Contains("jailwf approve " + instance, StringComparison.Ordinal));

            // Approved: the merge step ends, but the conflict markers block the start (an incident naming the file).
            var approved = await Jailwf.RunAsync(RunTimeout, bed.ApproveArgs(instance, "checked the accounts and motd"));
            Assert.True(approved.Exit == 1, $"exit {approved.Exit}\n{approved.StdOut}\n{approved.StdErr}");
            Assert.Contains("hold conflict markers (<<<<<<<): etc/hosts", approved.StdErr, StringComparison.Ordinal);
            journal = await bed.JournalAsync(instance);
            Assert.Contains(journal, e => e.Kind == JournalEntryKind.OperatorAction && e.Message.StartsWith("approved by ", StringComparison.Ordinal) && e.Message.EndsWith("(reason: checked the accounts and motd)", StringComparison.Ordinal));
            Assert.Contains(journal, e => e.Step == "mergeetc" && e.Kind == JournalEntryKind.StepFinished);
            Assert.Empty(await JailsNamedAsync(bed, "wd-merge"));

            await File.WriteAllTextAsync(hosts, hostsText);
            var started = await Jailwf.RunAsync(RunTimeout, bed.ResumeArgs(instance));
            Assert.True(started.Exit == 0, $"exit {started.Exit}\n{started.StdOut}\n{started.StdErr}");
            Assert.NotEmpty(await JailsNamedAsync(bed, "wd-merge"));
        }
        finally
        {
            File.Delete(knob);
            await bed.Consolidation.StopJailAsync();

            // A failed run must not leave a hung mergemaster behind (the lab's down does not end it).
            foreach (var view in await bed.InstancesAsync())
            {
                foreach (var job in (await bed.JournalAsync(view.Id)).Where(e => e.Kind == JournalEntryKind.JobStarted))
                {
                    await bed.KillJobAsync(job.JobId!);
                }
            }
        }
    }

    private static async Task<string> JailsNamedAsync(ActivityBed bed, string name)
    {
        var r = await LabSsh.RunAsync(bed.Plan.JailHost.Ssh!, Jls.ForJail(name));
        return r.ExitCode == 0 ? r.StdOut.Trim() : string.Empty;
    }

    private static IEnumerable<int> MergemasterProcesses(string jailRoot)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            if (cmdline.Contains("mergemaster", StringComparison.Ordinal) && cmdline.Contains(jailRoot, StringComparison.Ordinal))
            {
                yield return pid;
            }
        }
    }

    private static async Task AssertSurvivorsAsync(string root, bool immutables)
    {
        // Hard links: one inode.
        var index = Path.Combine(root, "usr/local/www/data/index.html");
        Assert.Equal(await StatAsync("%i", index), await StatAsync("%i", index + ".en"));
        Assert.Equal("2", await StatAsync("%h", index));
        Assert.Equal(await StatAsync("%i", Path.Combine(root, "var/log/httpd-access.log")), await StatAsync("%i", Path.Combine(root, "var/log/access_log")));

        // A sparse file keeps its holes.
        var sparse = Path.Combine(root, "usr/local/var/db/sessions.db");
        var parts = (await StatAsync("%b %B %s", sparse)).Split(' ').Select(long.Parse).ToArray();
        Assert.Equal(16L * 1024 * 1024, parts[2]);
        Assert.True(parts[0] * parts[1] < parts[2] / 100, $"allocated {parts[0] * parts[1]} bytes of {parts[2]}");
        var bytes = await File.ReadAllBytesAsync(sparse);
        Assert.StartsWith("SPARSE ", System.Text.Encoding.ASCII.GetString(bytes, 0, 16), StringComparison.Ordinal);

        // Immutable files (schg on FreeBSD, chattr +i here) keep the flag.
        if (immutables)
        {
            foreach (var immutable in new[] { "boot/loader", "kernel", "usr/src/COPYRIGHT" })
            {
                Assert.Contains('i', await LsattrAsync(Path.Combine(root, immutable)));
            }
        }

        Assert.False(File.Exists(Path.Combine(root, "restoresymtable")));
        Assert.False(File.Exists(Path.Combine(root, "usr/restoresymtable")));
    }

    private static async Task<string> LsattrAsync(string path)
    {
        var r = await Local.RunAsync("lsattr", ["-d", path]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.StdOut.Split(' ')[0];
    }

    private static async Task<string> StatAsync(string format, string path)
    {
        var r = await Local.RunAsync("stat", ["-c", format, path]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.StdOut.Trim();
    }

    /// <summary>Tree lines keyed by path (<see cref="Consolidation.Tree"/>), <paramref name="top"/>'s entries replacing <paramref name="bottom"/>'s.</summary>
    private static SortedSet<string> Overlay(SortedSet<string> bottom, SortedSet<string> top)
    {
        static string Key(string line)
        {
            var arrow = line.IndexOf(" -> ", StringComparison.Ordinal);
            return arrow >= 0 ? line[..arrow] : line[..line.LastIndexOf(line.Contains(" f ", StringComparison.Ordinal) ? " f " : " d ", StringComparison.Ordinal)];
        }

        var merged = bottom.ToDictionary(Key, l => l, StringComparer.Ordinal);
        foreach (var line in top)
        {
            merged[Key(line)] = line;
        }

        return new SortedSet<string>(merged.Values, StringComparer.Ordinal);
    }

    private static void AssertSameTree(SortedSet<string> expected, SortedSet<string> actual, string when) =>
        Assert.True(
            expected.SetEquals(actual),
            $"jail trees differ {when}:\nonly expected:\n  " + string.Join("\n  ", expected.Except(actual).Take(20)) + "\nonly actual:\n  " + string.Join("\n  ", actual.Except(expected).Take(20)));
}
