using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Hosts;
using JailWorkflows.Lab;
using JailWorkflows.Tests.Activities;
using JailWorkflows.Tests.Lab;
using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.EndToEnd;

/// <summary>
/// Host jobs outlive the engine's SSH connection and the engine itself; an abort kills the job's whole session (make -j's
/// jobs are in process groups of their own) and confirms it is gone. Jail IP 127.0.20.15.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class HostJobSurvivalTests(LabFixture lab)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(5);

    [LabFact]
    public async Task A_build_survives_a_dropped_ssh_connection_and_abort_kills_its_whole_session()
    {
        var bed = ActivityBed.Create(lab, "survive", "ServerC", "serverc-survive", "127.0.20.15", buildStageSeconds: 3, ("build-only", [("buildworld", "BuildWorld", null)]));
        using var engine = Jailwf.Start(bed.RunArgs("build-only"));
        var instance = (await bed.NewestAsync("build-only")).Id;
        var job = await bed.WaitForJobAsync(instance, "world-", engine, async () =>
            (await bed.JournalAsync(instance)).Any(e => e.Kind == JournalEntryKind.JobOutput));

        // The jail host's sshd drops every connection (its per-connection processes are killed): the step reconnects
        // and polls the same job, whose output keeps coming into the journal.
        var listener = int.Parse(await File.ReadAllTextAsync(Path.Combine(lab.Info.JailHost.Directory, "sshd", "sshd.pid")), System.Globalization.CultureInfo.InvariantCulture);
        var sessions = Children(listener);
        Assert.NotEmpty(sessions);
        foreach (var session in sessions)
        {
            LabProcesses.Signal(session, 9);
        }

        var dropped = (await bed.JournalAsync(instance)).Max(e => e.Id);
        await Wait.UntilAsync(
            async () => (await bed.JournalAsync(instance)).Any(e => e.Id > dropped && e.Kind == JournalEntryKind.JobOutput && e.JobId == job),
            TimeSpan.FromMinutes(2),
            "output of the same job after the connection was dropped");
        Assert.Single(await bed.JournalAsync(instance), e => e.Kind == JournalEntryKind.JobStarted);

        // While that engine runs, an abort from another process is refused naming it (one engine per database).
        var refused = await Jailwf.RunAsync(RunTimeout, "abort", instance, "--reason", "test", "--db", bed.Database, "--workflows", bed.Workflows);
        Assert.True(refused.Exit == 3, $"exit {refused.Exit}\n{refused.StdOut}\n{refused.StdErr}");
        Assert.Contains($"pid {engine.Pid}", refused.StdErr, StringComparison.Ordinal);

        // The engine dies; the build goes on without it. Abort kills the job's whole session.
        engine.Kill();
        await engine.WaitAsync(TimeSpan.FromSeconds(30));
        await using var host = new SshHost(bed.Plan.JailHost.Ssh!);
        var jobs = new HostJobs(host, bed.Plan.JailHost.JobsDir);
        var running = await jobs.PollAsync(job, 0);
        Assert.Equal(HostJobStatus.Running, running.Status);
        Assert.Equal(InstanceState.Interrupted, (await bed.ViewAsync(instance)).State);

        // make -j runs buildworld's recipe (the lab's world.sh) in a process group of its own, in the job's session:
        // killing only the job's process group would leave the build running.
        var jobSession = running.Session ?? throw new InvalidOperationException("no session recorded");
        var build = SessionMembers(jobSession);
        Assert.Contains(build, p => p.Group != running.ProcessGroup);

        var abort = await Jailwf.RunAsync(RunTimeout, "abort", instance, "--reason", "the build is not wanted tonight", "--db", bed.Database, "--workflows", bed.Workflows);
        Assert.True(abort.Exit == 0, $"exit {abort.Exit}\n{abort.StdOut}\n{abort.StdErr}");
        Assert.Contains($"host job {job} killed", abort.StdOut, StringComparison.Ordinal);
        Assert.Equal(HostJobStatus.Lost, (await jobs.PollAsync(job, 0)).Status);
        Assert.DoesNotContain(running.ProcessGroup!.Value, ProcessGroups());
        Assert.Empty(SessionMembers(jobSession)); // what survived of the build, if anything
        var view = await bed.ViewAsync(instance);
        Assert.Equal(InstanceState.Aborted, view.State);
        Assert.Contains(await bed.JournalAsync(instance), e => e.Kind == JournalEntryKind.OperatorAction && e.Message.Contains("the build is not wanted tonight", StringComparison.Ordinal));

        // An aborted instance takes no more decisions; nothing changes.
        var again = await Jailwf.RunAsync(RunTimeout, "abort", instance, "--reason", "again", "--db", bed.Database, "--workflows", bed.Workflows);
        Assert.Equal(2, again.Exit);
        Assert.Contains("was aborted", again.StdErr, StringComparison.Ordinal);
    }

    private static List<int> Children(int parent) =>
        [.. Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => int.TryParse(n, out _)).Select(int.Parse!)
            .Where(pid => Stat(pid) is { } stat && stat.Parent == parent)];

    /// <summary>The process groups of live processes (zombies, already dead and waiting to be reaped, left out).</summary>
    private static HashSet<int> ProcessGroups() =>
        [.. Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => int.TryParse(n, out _)).Select(int.Parse!)
            .Select(Stat).Where(s => s is { State: not "Z" }).Select(s => s!.Value.Group)];

    /// <summary>The live processes of session <paramref name="session"/> (zombies left out).</summary>
    private static List<(int Pid, int Group)> SessionMembers(int session) =>
        [.. Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => int.TryParse(n, out _)).Select(int.Parse!)
            .Select(pid => (Pid: pid, Stat: Stat(pid))).Where(p => p.Stat is { State: not "Z" } s && s.Session == session).Select(p => (p.Pid, p.Stat!.Value.Group))];

    private static (string State, int Parent, int Group, int Session)? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0], int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(fields[3], System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (IOException)
        {
            return null;
        }
    }
}
