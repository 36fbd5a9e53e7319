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

    private async Task<HostJobState> Start(HostJobs jobs, string id, ShellCommand script)
    {
        _started.Add((jobs, id));
        return await jobs.StartAsync(id, script);
    }
}
