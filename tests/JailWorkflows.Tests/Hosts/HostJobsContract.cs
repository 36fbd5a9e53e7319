using System.Globalization;
using System.Text;
using JailWorkflows.Hosts;
using JailWorkflows.Shell;

namespace JailWorkflows.Tests.Hosts;

/// <summary>
/// Host job behaviour, run on LocalHost and over SshHost. The SSH host is this machine, so the tests look
/// at the job directory and the processes directly to check what the product reports.
/// </summary>
internal sealed class HostJobsContract(Func<Host> newHost, string workDir) : IAsyncDisposable
{
    private readonly List<Host> _hosts = [];
    private readonly List<(HostJobs Jobs, string Id)> _started = [];

    public string JobsDir => Path.Combine(workDir, "jobs");

    public HostJobs NewJobs(int maxChunk = 256 * 1024)
    {
        var host = newHost();
        _hosts.Add(host);
        return new HostJobs(host, JobsDir) { MaxOutputChunk = maxChunk };
    }

    public async ValueTask DisposeAsync()
    {
        // Leave no job behind, even when a test failed half-way.
        foreach (var (jobs, id) in _started)
        {
            try
            {
                await jobs.KillAsync(id);
            }
            catch (Exception e) when (e is HostCommandException or HostUnreachableException)
            {
                // Reported by the failing test already.
            }
        }

        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
    }

    public async Task StartPollOutputAndExit()
    {
        var jobs = NewJobs();
        var go = Path.Combine(workDir, "go-1");
        var script = ShellCommand.Of("echo", "one")
            .Then(ShellCommand.Of("sh", "-c", "while [ ! -e \"$1\" ]; do sleep 0.02; done", "sh", go))
            .Then(ShellCommand.Of("echo", "two"))
            .Then(ShellCommand.Of("sh", "-c", "echo err >&2; exit 3"));

        var started = await Start(jobs, "job-1", script);
        Assert.Equal(HostJobStatus.Running, started.Status);
        Assert.NotNull(started.ProcessId);
        Assert.Equal(0, started.OutputOffset);
        Assert.True(Procs.IsAlive(started.ProcessId.Value));
        Assert.Equal(started.ProcessId, started.ProcessGroup); // daemon(8) made it a group of its own
        Assert.NotEqual(Procs.ProcessGroup(Environment.ProcessId), started.ProcessGroup);

        var first = await Eventually.UntilAsync(() => jobs.PollAsync("job-1", 0), s => s.OutputOffset >= 4, "the first line");
        Assert.Equal(HostJobStatus.Running, first.Status);
        Assert.Equal("one\n", first.NewOutputText);
        Assert.Null(first.ExitStatus);

        // Nothing new: an empty chunk at the same offset.
        var again = await jobs.PollAsync("job-1", first.OutputOffset);
        Assert.Empty(again.NewOutput);
        Assert.Equal(first.OutputOffset, again.OutputOffset);

        await File.WriteAllTextAsync(go, string.Empty);
        var end = await Eventually.UntilAsync(() => jobs.PollAsync("job-1", first.OutputOffset), s => s.Status == HostJobStatus.Exited, "the job to exit");
        Assert.Equal(3, end.ExitStatus);
        Assert.Equal("two\nerr\n", end.NewOutputText);
        Assert.Equal(12, end.OutputOffset);
        Assert.False(end.MoreOutput);

        // The job directory holds what the design says.
        var dir = Path.Combine(JobsDir, "job-1");
        Assert.Equal("3\n", File.ReadAllText(Path.Combine(dir, "exit")));
        Assert.Equal("one\ntwo\nerr\n", File.ReadAllText(Path.Combine(dir, "output")));
        Assert.Contains(script.Text, File.ReadAllText(Path.Combine(dir, "script")), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "exit.tmp")));
    }

    public async Task OutputComesInChunksByteExact()
    {
        var jobs = NewJobs(maxChunk: 5);
        var text = "Grüße ☃ aus der Jail\nline 2\n";
        await Start(jobs, "chunks", ShellCommand.Of("printf", "%s", text));
        var collected = new List<byte>();
        long offset = 0;
        var polls = 0;
        HostJobState state;
        do
        {
            state = await jobs.PollAsync("chunks", offset);
            Assert.True(state.NewOutput.Length <= 5);
            collected.AddRange(state.NewOutput);
            offset = state.OutputOffset;
            polls++;
        }
        while (!state.IsFinished || state.MoreOutput || state.NewOutput.Length > 0);

        Assert.Equal(HostJobStatus.Exited, state.Status);
        Assert.Equal(0, state.ExitStatus);
        Assert.Equal(Encoding.UTF8.GetBytes(text), collected.ToArray());
        Assert.True(polls >= Encoding.UTF8.GetByteCount(text) / 5);
    }

    public async Task StartIsIdempotent()
    {
        var jobs = NewJobs();
        var counter = Path.Combine(workDir, "counter");
        var go = Path.Combine(workDir, "go-twice");
        var script = ShellCommand.Of("sh", "-c", "echo run >> \"$1\"; while [ ! -e \"$2\" ]; do sleep 0.02; done", "sh", counter, go);

        var first = await Start(jobs, "twice", script);
        var second = await jobs.StartAsync("twice", script);
        Assert.Equal(HostJobStatus.Running, second.Status);
        Assert.Equal(first.ProcessId, second.ProcessId);

        // Even with a different script: the id decides, nothing new starts.
        var third = await NewJobs().StartAsync("twice", ShellCommand.Of("sh", "-c", "echo other >> \"$1\"", "sh", counter));
        Assert.Equal(first.ProcessId, third.ProcessId);

        await File.WriteAllTextAsync(go, string.Empty);
        await Eventually.UntilAsync(() => jobs.PollAsync("twice", 0), s => s.Status == HostJobStatus.Exited, "the job to exit");
        var afterExit = await jobs.StartAsync("twice", script);
        Assert.Equal(HostJobStatus.Exited, afterExit.Status);
        Assert.Equal(0, afterExit.ExitStatus);
        Assert.Equal("run\n", File.ReadAllText(counter));
    }

    public async Task InterruptedStartIsCompleted()
    {
        // The engine died after making the job directory (and a half-written script) but before daemon(8) ran.
        var dir = Path.Combine(JobsDir, "interrupted");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "script.tmp"), "echo half");
        var jobs = NewJobs();
        Assert.Equal(HostJobStatus.NotStarted, (await jobs.PollAsync("interrupted", 0)).Status);

        await Start(jobs, "interrupted", ShellCommand.Of("echo", "whole"));
        var end = await Eventually.UntilAsync(() => jobs.PollAsync("interrupted", 0), s => s.IsFinished, "the job to end");
        Assert.Equal(HostJobStatus.Exited, end.Status);
        Assert.Equal("whole\n", end.NewOutputText);
    }

    public async Task UnknownJobIsNotStarted()
    {
        var state = await NewJobs().PollAsync("never-started", 0);
        Assert.Equal(HostJobStatus.NotStarted, state.Status);
        Assert.Null(state.ProcessId);
        Assert.Empty(state.NewOutput);
        Assert.False(Directory.Exists(Path.Combine(JobsDir, "never-started")));
    }

    public async Task KilledJobIsLost()
    {
        var jobs = NewJobs();
        var started = await Start(jobs, "lost", ShellCommand.Of("echo", "before").Then(ShellCommand.Of("sleep", "1000")));
        var pgid = started.ProcessGroup ?? throw new InvalidOperationException("no process group");
        await Eventually.UntilAsync(() => jobs.PollAsync("lost", 0), s => s.OutputOffset > 0, "the job's output");

        Procs.KillGroup(pgid);
        var lost = await Eventually.UntilAsync(() => jobs.PollAsync("lost", 0), s => s.Status != HostJobStatus.Running, "the job to be seen dead");
        Assert.Equal(HostJobStatus.Lost, lost.Status);
        Assert.Null(lost.ExitStatus);
        Assert.Equal("before\n", lost.NewOutputText); // the output so far stays readable

        // A lost job is not restarted under the same id.
        var restart = await jobs.StartAsync("lost", ShellCommand.Of("echo", "again"));
        Assert.Equal(HostJobStatus.Lost, restart.Status);
    }

    public async Task KillEndsTheWholeProcessGroup()
    {
        var jobs = NewJobs();
        var childPid = Path.Combine(workDir, "child.pid");
        var script = ShellCommand.Of("sh", "-c", "sleep 1000 & echo $! > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; wait", "sh", childPid);
        var started = await Start(jobs, "to-kill", script);
        var pgid = started.ProcessGroup ?? throw new InvalidOperationException("no process group");
        await Eventually.UntilAsync(() => File.Exists(childPid), "the child to start");
        var child = int.Parse(File.ReadAllText(childPid), CultureInfo.InvariantCulture);
        Assert.True(Procs.IsAlive(child));
        Assert.Equal(pgid, Procs.ProcessGroup(child));
        Assert.True(Procs.GroupMembers(pgid).Count >= 3); // wrapper sh, script sh, sh -c, sleep

        var killed = await jobs.KillAsync("to-kill");

        // KillAsync returns only once the group is gone.
        Assert.Empty(Procs.GroupMembers(pgid));
        Assert.False(Procs.IsAlive(child));
        Assert.Equal(HostJobStatus.Lost, killed.Status);
        Assert.Equal(HostJobStatus.Lost, (await jobs.PollAsync("to-kill", 0)).Status);

        // Killing again, or killing a job that never started, is harmless.
        Assert.Equal(HostJobStatus.Lost, (await jobs.KillAsync("to-kill")).Status);
        Assert.Equal(HostJobStatus.NotStarted, (await jobs.KillAsync("no-such-job")).Status);
    }

    /// <summary>
    /// make(1) -j puts each job it runs into a process group of its own (setpgid(2) in bmake's job.c), inside the
    /// session daemon(8) made. When the job's own group dies (its shells and make itself, e.g. an OOM kill), make's
    /// jobs build on: the job is running, not lost, and KillAsync ends them.
    /// </summary>
    public async Task MakeJobsOutsideTheJobsProcessGroupKeepItRunning()
    {
        var jobs = NewJobs();
        var (script, pidDir) = ParallelMake("make-orphans");
        var started = await Start(jobs, "make-orphans", script);
        var (pid, pgid, sid) = Identity(started);
        var children = await MakeJobPids(pidDir);

        // What the old process-group code missed: make's jobs are in other groups, of the job's session.
        foreach (var child in children)
        {
            Assert.True(Procs.IsAlive(child));
            Assert.NotEqual(pgid, Procs.ProcessGroup(child));
            Assert.Equal(sid, Procs.Session(child));
        }

        Assert.NotEqual(Procs.ProcessGroup(children[0]), Procs.ProcessGroup(children[1]));

        Procs.KillGroup(pgid);
        await Eventually.UntilAsync(() => Procs.GroupMembers(pgid).Count == 0 && !Procs.IsAlive(pid), "the job's own process group to be gone");
        Assert.All(children, child => Assert.True(Procs.IsAlive(child)));

        // pid dead and its group empty (the old code's "lost"), yet the build runs: running.
        var orphaned = await jobs.PollAsync("make-orphans", 0);
        Assert.Equal(HostJobStatus.Running, orphaned.Status);
        Assert.Equal(sid, orphaned.Session);
        Assert.Equal(HostJobStatus.Running, (await jobs.StartAsync("make-orphans", script)).Status); // a retry starts nothing

        var killed = await jobs.KillAsync("make-orphans");
        Assert.Equal(HostJobStatus.Lost, killed.Status);
        Assert.Empty(Procs.SessionMembers(sid));
        Assert.All(children, child => Assert.False(Procs.IsAlive(child)));
        Assert.Equal(HostJobStatus.Lost, (await jobs.PollAsync("make-orphans", 0)).Status);
    }

    /// <summary>KillAsync on a running make -j: every process of the session goes, whatever its process group.</summary>
    public async Task KillEndsEveryProcessOfTheSession()
    {
        var jobs = NewJobs();
        var (script, pidDir) = ParallelMake("make-kill");
        var started = await Start(jobs, "make-kill", script);
        var (_, pgid, sid) = Identity(started);
        var children = await MakeJobPids(pidDir);
        Assert.All(children, child => Assert.NotEqual(pgid, Procs.ProcessGroup(child)));
        Assert.True(Procs.SessionMembers(sid).Count >= 5); // wrapper sh, script sh, make, 2 x (job sh exec'd into sleep)

        var killed = await jobs.KillAsync("make-kill");

        // KillAsync returns only once the whole session is gone.
        Assert.Empty(Procs.SessionMembers(sid));
        Assert.All(children, child => Assert.False(Procs.IsAlive(child)));
        Assert.Equal(HostJobStatus.Lost, killed.Status);
        Assert.Equal(HostJobStatus.Lost, (await jobs.PollAsync("make-kill", 0)).Status);
    }

    /// <summary>
    /// Job directories written before sessions were recorded (pid and pgid, no sid): while the pid is alive in its
    /// group the session is taken from it; once the pid is gone the job is judged and killed by its group, as before.
    /// </summary>
    public async Task JobDirectoryWithoutSessionFallsBackToItsProcessGroup()
    {
        var jobs = NewJobs();

        // Pid alive in the recorded group: its session is recorded, and is what a kill ends.
        var alive = SetsidShell("echo $$; exec sleep 600 > /dev/null 2>&1");
        try
        {
            var adopted = OldJobDirectory("old-alive", alive, Procs.ProcessGroup(alive)!.Value);
            var seen = await jobs.PollAsync("old-alive", 0);
            Assert.Equal(HostJobStatus.Running, seen.Status);
            Assert.Equal(Procs.Session(alive), seen.Session);
            Assert.Equal($"{seen.Session}\n", File.ReadAllText(Path.Combine(adopted, "sid")));
            Assert.Equal(HostJobStatus.Lost, (await jobs.KillAsync("old-alive")).Status);
            Assert.False(Procs.IsAlive(alive));
        }
        finally
        {
            KillIfAlive(alive);
        }

        // Pid gone, a member of its group alive: running, then killed by the group.
        var shell = SetsidShell("sleep 600 < /dev/null > /dev/null 2>&1 & echo $$");
        await Eventually.UntilAsync(() => !Procs.IsAlive(shell), "the group's leader to exit");
        var pgid = shell; // setsid(2) made the shell the leader of its group; the group outlives it
        var members = Procs.GroupMembers(pgid);
        try
        {
            var member = Assert.Single(members);
            var dir = OldJobDirectory("old-group", shell, pgid);
            var seen = await jobs.PollAsync("old-group", 0);
            Assert.Equal(HostJobStatus.Running, seen.Status);
            Assert.Null(seen.Session);
            Assert.False(File.Exists(Path.Combine(dir, "sid")));
            Assert.Equal(HostJobStatus.Lost, (await jobs.KillAsync("old-group")).Status);
            Assert.False(Procs.IsAlive(member));
            Assert.Empty(Procs.GroupMembers(pgid));
        }
        finally
        {
            foreach (var member in members)
            {
                KillIfAlive(member);
            }
        }
    }

    public async Task ReattachAfterEngineRestart()
    {
        var counter = Path.Combine(workDir, "reattach-counter");
        var go = Path.Combine(workDir, "go-reattach");
        var script = ShellCommand.Of("sh", "-c", "echo run >> \"$1\"; echo started; while [ ! -e \"$2\" ]; do sleep 0.02; done; echo finished", "sh", counter, go);
        var before = await Start(NewJobs(), "reattach", script);

        // A new HostJobs on a new Host (a new process, a new SSH connection) finds the job by its id.
        var after = NewJobs();
        var seen = await after.PollAsync("reattach", 0);
        Assert.Equal(HostJobStatus.Running, seen.Status);
        Assert.Equal(before.ProcessId, seen.ProcessId);
        var again = await after.StartAsync("reattach", script);
        Assert.Equal(HostJobStatus.Running, again.Status);
        Assert.Equal(before.ProcessId, again.ProcessId);

        await File.WriteAllTextAsync(go, string.Empty);
        var end = await Eventually.UntilAsync(() => after.PollAsync("reattach", 0), s => s.IsFinished, "the job to end");
        Assert.Equal(HostJobStatus.Exited, end.Status);
        Assert.Equal(0, end.ExitStatus);
        Assert.Equal("started\nfinished\n", end.NewOutputText);
        Assert.Equal("run\n", File.ReadAllText(counter));
    }

    public async Task QuotingReachesTheJobVerbatim()
    {
        var jobs = NewJobs();
        var marker = Path.Combine(workDir, "MARKER");
        var args = HostContract.NastyArguments.Select(a => a.Replace("MARKER", marker, StringComparison.Ordinal)).ToArray();
        await Start(jobs, "quoting", ShellCommand.Of("printf", ["%s\n", .. args]));
        var end = await Eventually.UntilAsync(() => jobs.PollAsync("quoting", 0), s => s.IsFinished, "the job to end");
        Assert.Equal(0, end.ExitStatus);
        Assert.Equal(string.Concat(args.Select(a => a + "\n")), end.NewOutputText);
        Assert.False(File.Exists(marker));
    }

    public void InvalidJobIdsAreRefused()
    {
        var jobs = NewJobs();
        foreach (var id in new[] { "", ".", "..", "../x", "a/b", "a b", "$(id)", "a;b", "ü", new string('a', 201) })
        {
            Assert.Throws<ArgumentException>(() => jobs.JobDirectory(id));
        }

        Assert.Throws<ArgumentException>(() => new HostJobs(new LocalHost(), "relative/jobs"));
        Assert.Throws<ArgumentException>(() => new HostJobs(new LocalHost(), "/"));
        Assert.Throws<ArgumentException>(() => new HostJobs(new LocalHost(), "/var/../etc"));
        Assert.Equal(JobsDir + "/a-b_c.1", jobs.JobDirectory("a-b_c.1"));
        Assert.Equal(
            $"daemon -f -p {JobsDir}/x/pid -o {JobsDir}/x/output /bin/sh -c 'cd / && {{ /bin/sh {JobsDir}/x/script; echo $? > {JobsDir}/x/exit.tmp; }} && mv -f {JobsDir}/x/exit.tmp {JobsDir}/x/exit'",
            jobs.DaemonCommand("x").Text);
    }

    /// <summary>A script running make -j2 (bmake, FreeBSD's make) with two jobs that write their pid and sleep.</summary>
    private (ShellCommand Script, string PidDir) ParallelMake(string name)
    {
        var dir = Path.Combine(workDir, name);
        Directory.CreateDirectory(dir);
        var makefile = Path.Combine(dir, "Makefile");
        File.WriteAllText(makefile, "all: one two\none two:\n\t@echo $$$$ > $(PIDS)/$@.tmp; mv $(PIDS)/$@.tmp $(PIDS)/$@.pid; exec sleep 600\n");
        return (ShellCommand.Of("bmake", "-j2", "-f", makefile, "PIDS=" + dir), dir);
    }

    private static async Task<int[]> MakeJobPids(string pidDir)
    {
        string[] files = [Path.Combine(pidDir, "one.pid"), Path.Combine(pidDir, "two.pid")];
        await Eventually.UntilAsync(() => files.All(File.Exists), "make's two jobs to start");
        return [.. files.Select(f => int.Parse(File.ReadAllText(f), CultureInfo.InvariantCulture))];
    }

    private static (int Pid, int Pgid, int Sid) Identity(HostJobState started)
    {
        Assert.Equal(HostJobStatus.Running, started.Status);
        var pid = started.ProcessId ?? throw new InvalidOperationException("no pid");
        var pgid = started.ProcessGroup ?? throw new InvalidOperationException("no process group");
        var sid = started.Session ?? throw new InvalidOperationException("no session");
        Assert.Equal(Procs.Session(pid), sid);
        Assert.NotEqual(Procs.Session(Environment.ProcessId), sid); // daemon(8) made a session of its own
        return (pid, pgid, sid);
    }

    /// <summary>Runs <paramref name="script"/> with sh in a new session (setsid(1)); returns the pid its first output line names.</summary>
    private static int SetsidShell(string script)
    {
        var info = new System.Diagnostics.ProcessStartInfo("setsid") { RedirectStandardOutput = true, ArgumentList = { "/bin/sh", "-c", script } };
        using var process = System.Diagnostics.Process.Start(info)!;
        return int.Parse(process.StandardOutput.ReadLine()!, CultureInfo.InvariantCulture);
    }

    private string OldJobDirectory(string id, int pid, int pgid)
    {
        var dir = Path.Combine(JobsDir, id);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "pid"), $"{pid}\n");
        File.WriteAllText(Path.Combine(dir, "pgid"), $"{pgid}\n");
        File.WriteAllText(Path.Combine(dir, "output"), string.Empty);
        return dir;
    }

    private static void KillIfAlive(int pid)
    {
        if (Procs.IsAlive(pid))
        {
            using var kill = System.Diagnostics.Process.Start("kill", ["-s", "KILL", pid.ToString(CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }
    }

    private async Task<HostJobState> Start(HostJobs jobs, string id, ShellCommand script)
    {
        _started.Add((jobs, id));
        return await jobs.StartAsync(id, script);
    }
}
