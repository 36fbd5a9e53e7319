using System.Net.Http;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Plans;
using JailWorkflows.Tests.EndToEnd;
using JailWorkflows.Tests.Lab;
using JailWorkflows.Tests.Support;
using WorkflowCore.Models;

namespace JailWorkflows.Tests.Checks;

/// <summary>
/// Preflight, StartJail/StopJail and VerifyJail on the lab, each through the engine (in this process) with a small
/// definition of its own. Jail IPs 127.0.20.40-49.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class JailChecksTests(LabFixture lab)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);

    [LabFact]
    public async Task Preflight_reports_a_full_disk_an_ip_in_use_and_a_foreign_jail_root_in_one_incident_and_changes_nothing()
    {
        var setting = Consolidation.Create(lab, "pf-refuse", "ServerC", "pf-refuse", "127.0.20.41");
        var jailsDir = setting.Plan.JailHost.JailsDir;
        var holderRoot = Path.Combine(setting.Directory, "holder");
        var mounted = false;
        try
        {
            // A jails directory on a 2 MiB file system (under 1 MiB free): far too small for ServerC (about 3 MiB used).
            Directory.CreateDirectory(jailsDir);
            var image = Path.Combine(setting.Directory, "tiny.ext4");
            await Must(Local.RunAsync("truncate", ["-s", "2M", image]));
            await Must(Local.RunAsync("mke2fs", ["-q", "-F", "-t", "ext4", "-m", "0", image]));
            await Must(Local.RunAsync("mount", ["-o", "loop", image, jailsDir]));
            mounted = true;

            // A foreign tree where the jail root would be (no ownership marker).
            Directory.CreateDirectory(Path.Combine(setting.JailRoot, "etc"));
            await File.WriteAllTextAsync(Path.Combine(setting.JailRoot, "etc/rc.conf"), "sshd_enable=\"YES\"\n");

            // A running jail holding the IP.
            Directory.CreateDirectory(holderRoot);
            await Must(LabSsh.RunAsync(lab.Info.JailHost.Ssh, ShellCommandOf("jail", "-c", "name=pf-holder", "path=" + holderRoot, "host.hostname=holder.example.org", "ip4.addr=127.0.20.41")));
            var before = Snapshot(setting.Directory);

            var view = await RunAsync(setting, setting.Plan, "preflight-refuse", """[ { "id": "preflight", "activity": "Preflight" } ]""");

            Assert.Equal(WorkflowStatus.Suspended, view.Status);
            var error = view.LastError!;
            Assert.Contains("3 of 7 checks failed", error, StringComparison.Ordinal);
            Assert.Contains("free space", error, StringComparison.Ordinal);
            Assert.Contains("jail IP: 127.0.20.41 is in use", error, StringComparison.Ordinal);
            Assert.Contains(holderRoot, error, StringComparison.Ordinal);
            Assert.Contains("jail root", error, StringComparison.Ordinal);
            Assert.Contains("owned by no instance", error, StringComparison.Ordinal);

            // Every check is a journal line: 4 passed, 3 failed.
            var journal = await JournalAsync(setting, "preflight-refuse", view.Id);
            var lines = journal.Where(e => e.Message.StartsWith("preflight ", StringComparison.Ordinal)
                && (e.Message.Contains(": passed: ", StringComparison.Ordinal) || e.Message.Contains(": FAILED: ", StringComparison.Ordinal))).ToList();
            Assert.Equal(7, lines.Count);
            Assert.Equal(
                ["free space", "jail IP", "jail root"],
                lines.Where(e => e.Kind == JournalEntryKind.Error).Select(e => e.Message.Split(':')[0]["preflight ".Length..]).Order(StringComparer.Ordinal));
            Assert.Equal(4, lines.Count(e => e.Kind == JournalEntryKind.Info && e.Message.Contains(": passed: ", StringComparison.Ordinal)));

            // Nothing changed: the foreign tree, no marker, no jail.conf, no job; only the transfer's known_hosts was written.
            var after = Snapshot(setting.Directory);
            Assert.Equal(["state/jails/pf-refuse/known_hosts"], after.Except(before).Where(p => !IsEngineFile(p)).Order(StringComparer.Ordinal));
            Assert.Empty(before.Except(after));
            Assert.False(File.Exists(Path.Combine(setting.Plan.JailHost.StateDir, "jails/pf-refuse/owner")));
        }
        finally
        {
            await LabSsh.RunAsync(lab.Info.JailHost.Ssh, ShellCommandOf("jail", "-r", "pf-holder"));
            if (mounted)
            {
                await Local.RunAsync("umount", [jailsDir]);
            }
        }
    }

    [LabFact]
    public async Task Preflight_passes_on_a_clean_setting_writing_only_the_owner_marker_and_a_rerun_changes_nothing()
    {
        var setting = Consolidation.Create(lab, "pf-pass", "ServerC", "pf-pass", "127.0.20.42");
        var before = Snapshot(setting.Directory);

        var view = await RunAsync(setting, setting.Plan, "preflight-pass", """[ { "id": "preflight", "activity": "Preflight" }, { "id": "again", "activity": "Preflight", "inputs": { "spaceMarginPercent": 50 } } ]""");

        Assert.Equal(WorkflowStatus.Complete, view.Status);
        var journal = await JournalAsync(setting, "preflight-pass", view.Id);
        Assert.Equal(14, journal.Count(e => e.Kind == JournalEntryKind.Info && e.Message.Contains(": passed: ", StringComparison.Ordinal)));
        Assert.DoesNotContain(journal, e => e.Kind == JournalEntryKind.Error);
        Assert.Single(journal, e => e.Message.StartsWith("jail root ", StringComparison.Ordinal) && e.Message.Contains("is owned by this instance", StringComparison.Ordinal));
        Assert.Equal(view.Id + "\n", await File.ReadAllTextAsync(Path.Combine(setting.Plan.JailHost.StateDir, "jails/pf-pass/owner")));

        var written = Snapshot(setting.Directory).Except(before).Where(p => !IsEngineFile(p)).Order(StringComparer.Ordinal);
        Assert.Equal(["state/jails/pf-pass/known_hosts", "state/jails/pf-pass/owner"], written);
        Assert.False(Directory.Exists(setting.Plan.JailHost.JailsDir), "preflight must not create the jails directory");
    }

    [LabFact]
    public async Task StartJail_twice_VerifyJail_StopJail_and_a_killed_httpd_becomes_an_incident_naming_it()
    {
        var setting = Consolidation.Create(lab, "jail-life", "ServerC", "jl-c", "127.0.20.43");

        // The lab's own jail.conf.d, which its rc.d/jail reads: StartJail goes through service jail start.
        var labConfDir = lab.Info.ToPlan().JailHost.JailConfDir;
        var plan = setting.Plan with { JailHost = setting.Plan.JailHost with { JailConfDir = labConfDir } };
        var ssh = lab.Info.JailHost.Ssh;
        try
        {
            var started = await RunAsync(setting, plan, "jail-start", """
                [ { "id": "transfer", "activity": "TransferPartitions" },
                  { "id": "strip", "activity": "Strip" },
                  { "id": "start", "activity": "StartJail" },
                  { "id": "start-again", "activity": "StartJail" },
                  { "id": "verify", "activity": "VerifyJail", "inputs": { "timeoutSeconds": 30 } } ]
                """);
            Assert.True(started.Status == WorkflowStatus.Complete, $"{started.Status}: {started.LastError}");
            var journal = await JournalAsync(setting, "jail-start", started.Id);
            Assert.Contains(journal, e => e.Step == "start" && e.Message.StartsWith("jail jl-c started: JID", StringComparison.Ordinal));
            Assert.DoesNotContain(journal, e => e.Step == "start" && e.Kind == JournalEntryKind.Warning); // rc.d/jail read the file
            Assert.Contains(journal, e => e.Step == "start-again" && e.Message == "jail jl-c is already running (JID " + JidOf(journal) + "); nothing done");
            Assert.DoesNotContain(journal, e => e.Step == "start-again" && e.Message.StartsWith("wrote ", StringComparison.Ordinal));
            var apache = Assert.Single(journal, e => e.Step == "verify" && e.Message.StartsWith("service apache: ", StringComparison.Ordinal));
            Assert.Equal(JournalEntryKind.Info, apache.Kind);
            Assert.Contains("httpd runs", apache.Message, StringComparison.Ordinal);
            Assert.Contains("listens on 127.0.20.43:80", apache.Message, StringComparison.Ordinal);
            Assert.Contains("http://127.0.20.43/ answers", apache.Message, StringComparison.Ordinal);
            var sshd = Assert.Single(journal, e => e.Step == "verify" && e.Message.StartsWith("service sshd: ", StringComparison.Ordinal));
            Assert.Equal(JournalEntryKind.Warning, sshd.Kind);
            Assert.Contains("no rc.d script", sshd.Message, StringComparison.Ordinal);

            // The web server dies inside the jail: the verification becomes an incident naming it.
            await Must(LabSsh.RunAsync(ssh, ShellCommandOf("jexec", "jl-c", "/bin/sh", "-c", "kill `cat /var/run/httpd.pid`")));
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) })
            {
                await Wait.UntilAsync(async () => !await AnswersAsync(http, "http://127.0.20.43/"), TimeSpan.FromSeconds(20), "httpd in jl-c to be gone");
            }

            var verified = await RunAsync(setting, plan, "jail-verify", """[ { "id": "verify", "activity": "VerifyJail", "inputs": { "timeoutSeconds": 1 } } ]""");
            Assert.Equal(WorkflowStatus.Suspended, verified.Status);
            Assert.Contains("1 enabled service(s) down", verified.LastError, StringComparison.Ordinal);
            Assert.Contains("apache (no httpd process in the jail; nothing listens on 127.0.20.43:80", verified.LastError, StringComparison.Ordinal);
            Assert.DoesNotContain("sshd (", verified.LastError, StringComparison.Ordinal);
            var down = await JournalAsync(setting, "jail-verify", verified.Id);
            Assert.Contains(down, e => e.Kind == JournalEntryKind.Error && e.Message.StartsWith("service apache: DOWN: ", StringComparison.Ordinal));

            // StopJail, twice: the second finds nothing to stop.
            var stopped = await RunAsync(setting, plan, "jail-stop", """[ { "id": "stop", "activity": "StopJail" }, { "id": "stop-again", "activity": "StopJail" } ]""");
            Assert.True(stopped.Status == WorkflowStatus.Complete, $"{stopped.Status}: {stopped.LastError}");
            var stopJournal = await JournalAsync(setting, "jail-stop", stopped.Id);
            Assert.Contains(stopJournal, e => e.Step == "stop" && e.Message == "jail jl-c stopped");
            Assert.DoesNotContain(stopJournal, e => e.Kind == JournalEntryKind.Warning); // through service jail stop
            Assert.Contains(stopJournal, e => e.Step == "stop-again" && e.Message == "jail jl-c is not running; nothing done");
            var jls = await LabSsh.RunAsync(ssh, Jls.ForJail("jl-c"));
            Assert.NotEqual(0, jls.ExitCode);
            Assert.Contains("not found", jls.StdErr, StringComparison.Ordinal);
        }
        finally
        {
            await LabSsh.RunAsync(ssh, ShellCommandOf("jail", "-r", "jl-c"));
            File.Delete(Path.Combine(labConfDir, "jl-c.conf"));
        }
    }

    [LabFact]
    public async Task The_inspection_shims_print_what_FreeBSD_prints()
    {
        var jailHost = lab.Info.JailHost.Ssh;
        var plan = lab.Info.ToPlan();

        var df = await LabSsh.RunAsync(jailHost, Df.Command(plan.JailHost.JailsDir));
        Assert.True(df.ExitCode == 0, df.ToString());
        Assert.StartsWith("Filesystem", df.StdOut, StringComparison.Ordinal);
        Assert.Contains("1024-blocks", df.StdOut, StringComparison.Ordinal);
        Assert.True(Assert.Single(Df.Parse(df.StdOut)).AvailableKiB > 0);
        var missing = await LabSsh.RunAsync(jailHost, Df.Command("/nonexistent/jails"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("df: /nonexistent/jails: No such file or directory", missing.StdErr, StringComparison.Ordinal);

        var source = plan.Server("ServerA");
        var sourceDf = await LabSsh.RunAsync(source.Ssh, Df.Command("/", "/usr", "/var", "/usr/local/www"));
        Assert.True(sourceDf.ExitCode == 0, sourceDf.ToString());
        Assert.Contains("1K-blocks", sourceDf.StdOut, StringComparison.Ordinal);
        var rows = Df.Parse(sourceDf.StdOut);
        Assert.Equal(["/", "/usr", "/var", "/usr"], rows.Select(r => r.MountedOn));
        Assert.Equal(["/dev/ad0s1a", "/dev/ad0s1f", "/dev/ad0s1e", "/dev/ad0s1f"], rows.Select(r => r.FileSystem));
        Assert.All(rows, r => Assert.True(r.UsedKiB > 0 && r.UsedKiB + r.AvailableKiB <= r.SizeKiB, r.ToString()));

        var ifconfig = await LabSsh.RunAsync(jailHost, Ifconfig.Command());
        Assert.True(ifconfig.ExitCode == 0, ifconfig.ToString());
        var addresses = Ifconfig.ParseIPv4(ifconfig.StdOut);
        Assert.Contains(new InterfaceAddress("em0", "127.0.10.1"), addresses);
        Assert.Contains(new InterfaceAddress("lo0", "127.0.0.1"), addresses);
        Assert.NotEqual(0, (await LabSsh.RunAsync(jailHost, "ifconfig lo0 alias 127.0.20.49")).ExitCode);

        var sockstat = await LabSsh.RunAsync(jailHost, Sockstat.ListeningIPv4());
        Assert.True(sockstat.ExitCode == 0, sockstat.ToString());
        Assert.Contains(Sockstat.Parse(sockstat.StdOut), s => s.Command == "sshd" && s.LocalAddress == "127.0.10.1" && s.LocalPort == 22 && s.Protocol == "tcp4");

        var config = await LabSsh.RunAsync(jailHost, RcdJail.Config("no-such-jail"));
        Assert.Equal(0, config.ExitCode);
        Assert.Null(RcdJail.ParseConfig(config.StdOut, "no-such-jail"));
        Assert.Contains("Invalid configuration for no-such-jail", config.StdErr, StringComparison.Ordinal);
    }

    /// <summary>Runs a definition of its own (steps as JSON) for the setting's server in an engine in this process,
    /// until the instance completes or is suspended.</summary>
    private static async Task<InstanceView> RunAsync(Consolidation setting, Plan plan, string definitionId, string stepsJson)
    {
        var workflows = Directory.CreateDirectory(Path.Combine(setting.Directory, "workflows-" + definitionId)).FullName;
        await File.WriteAllTextAsync(Path.Combine(workflows, definitionId + ".json"), $$"""{ "id": "{{definitionId}}", "version": 1, "steps": {{stepsJson}} }""");
        var options = new EngineOptions
        {
            DatabasePath = Path.Combine(setting.Directory, definitionId + ".db"),
            WorkflowsDirectory = workflows,
            JobPollInterval = TimeSpan.FromMilliseconds(300),
        };
        await using var engine = await JailwfEngine.StartAsync(options);
        var id = await engine.StartInstanceAsync(definitionId, plan, plan.Servers[0].Name);
        return await Wait.UntilAsync(
            async () => await engine.Queries.ViewAsync(id) is { Status: WorkflowStatus.Complete or WorkflowStatus.Suspended or WorkflowStatus.Terminated } v ? v : null,
            RunTimeout,
            $"instance of {definitionId} to complete or be suspended");
    }

    private static async Task<IReadOnlyList<JournalEntry>> JournalAsync(Consolidation setting, string definitionId, string instance)
    {
        var (queries, owner) = InstanceQueries.Open(Path.Combine(setting.Directory, definitionId + ".db"));
        await using (owner)
        {
            return await queries.JournalAsync(instance, 0, 100_000);
        }
    }

    private static string JidOf(IReadOnlyList<JournalEntry> journal)
    {
        var started = journal.First(e => e.Step == "start" && e.Message.StartsWith("jail jl-c started: JID ", StringComparison.Ordinal)).Message;
        return started["jail jl-c started: JID ".Length..].Split(',')[0];
    }

    private static async Task<bool> AnswersAsync(HttpClient http, string url)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(url));
            return true;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    /// <summary>Every file under a directory, relative, except what the engine writes for the test (databases, definitions).</summary>
    private static HashSet<string> Snapshot(string directory) =>
        Directory.EnumerateFiles(directory, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(f => Path.GetRelativePath(directory, f))
            .ToHashSet(StringComparer.Ordinal);

    private static bool IsEngineFile(string relative) =>
        relative.StartsWith("workflows-", StringComparison.Ordinal) || relative.Contains(".db", StringComparison.Ordinal);

    private static Shell.ShellCommand ShellCommandOf(string program, params string[] args) => Shell.ShellCommand.Of(program, args);

    private static async Task Must(Task<Run> run)
    {
        var result = await run;
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
