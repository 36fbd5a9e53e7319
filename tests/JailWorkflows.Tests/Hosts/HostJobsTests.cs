using JailWorkflows.Hosts;

namespace JailWorkflows.Tests.Hosts;

/// <summary>Host jobs on this machine (LocalHost with the daemon(8) shim first in PATH).</summary>
public sealed class HostJobsLocalTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-hosts-jobs-local-").FullName;
    private HostJobsContract _contract = null!;

    public Task InitializeAsync()
    {
        var path = DaemonShim.Install(Path.Combine(_dir, "shims"));
        _contract = new HostJobsContract(() => new LocalHost(new Dictionary<string, string> { ["PATH"] = path }), _dir);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _contract.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public Task StartPollOutputAndExit() => _contract.StartPollOutputAndExit();

    [Fact]
    public Task OutputComesInChunksByteExact() => _contract.OutputComesInChunksByteExact();

    [Fact]
    public Task StartIsIdempotent() => _contract.StartIsIdempotent();

    [Fact]
    public Task InterruptedStartIsCompleted() => _contract.InterruptedStartIsCompleted();

    [Fact]
    public Task UnknownJobIsNotStarted() => _contract.UnknownJobIsNotStarted();

    [Fact]
    public Task KilledJobIsLost() => _contract.KilledJobIsLost();

    [Fact]
    public Task KillEndsTheWholeProcessGroup() => _contract.KillEndsTheWholeProcessGroup();

    [Fact]
    public Task MakeJobsOutsideTheJobsProcessGroupKeepItRunning() => _contract.MakeJobsOutsideTheJobsProcessGroupKeepItRunning();

    [Fact]
    public Task KillEndsEveryProcessOfTheSession() => _contract.KillEndsEveryProcessOfTheSession();

    [Fact]
    public Task JobDirectoryWithoutSessionFallsBackToItsProcessGroup() => _contract.JobDirectoryWithoutSessionFallsBackToItsProcessGroup();

    [Fact]
    public async Task KillRefusesTheKillingShellsOwnSessionOrGroup()
    {
        // A recorded session or group that is the killing shell's own (a daemon(8) that did not detach, a corrupt
        // job directory) is refused: the kill would take the caller down with it. In a PID namespace whose session
        // leader lives outside it (a container's CI runner), the test's own session and group read as 0: then the
        // rule below (0 and 1 are never taken from a job directory) is what keeps the caller alive, and nothing is killed.
        var jobs = _contract.NewJobs();
        foreach (var (file, value, id) in new[]
                 {
                     ("sid", Procs.Session(Environment.ProcessId)!.Value, "own-session"),
                     ("pgid", Procs.ProcessGroup(Environment.ProcessId)!.Value, "own-group"),
                 })
        {
            var dir = Path.Combine(_contract.JobsDir, id);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, file), $"{value}\n");
            if (value > 1)
            {
                var e = await Assert.ThrowsAsync<HostCommandException>(() => jobs.KillAsync(id));
                Assert.Equal(73, e.Result.ExitStatus);
                Assert.Contains($"refusing to kill {(file == "sid" ? "session" : "process group")} '{value}'", e.Result.StdErr, StringComparison.Ordinal);
            }
            else
            {
                var ownState = await jobs.KillAsync(id);
                Assert.Equal(HostJobStatus.NotStarted, ownState.Status);
                Assert.Null(ownState.Session);
                Assert.Null(ownState.ProcessGroup);
            }
        }

        // Pid, session and group 0 and 1 are never taken from a job directory: nothing is killed.
        var low = Path.Combine(_contract.JobsDir, "low");
        Directory.CreateDirectory(low);
        File.WriteAllText(Path.Combine(low, "pid"), "1\n");
        File.WriteAllText(Path.Combine(low, "sid"), "1\n");
        File.WriteAllText(Path.Combine(low, "pgid"), "0\n");
        var state = await jobs.KillAsync("low");
        Assert.Equal(HostJobStatus.NotStarted, state.Status);
        Assert.Null(state.ProcessId);
        Assert.Null(state.Session);
        Assert.Null(state.ProcessGroup);
    }

    [Fact]
    public Task ReattachAfterEngineRestart() => _contract.ReattachAfterEngineRestart();

    [Fact]
    public Task QuotingReachesTheJobVerbatim() => _contract.QuotingReachesTheJobVerbatim();

    [Fact]
    public void InvalidJobIdsAreRefused() => _contract.InvalidJobIdsAreRefused();

    [Fact]
    public async Task MissingDaemonIsReportedWithItsError()
    {
        // No shim in PATH: the start fails loudly instead of reporting a job that never ran.
        var jobs = new HostJobs(new LocalHost(new Dictionary<string, string> { ["PATH"] = "/nonexistent:/usr/bin:/bin" }), Path.Combine(_dir, "nodaemon"));
        var e = await Assert.ThrowsAsync<HostCommandException>(() => jobs.StartAsync("j", JailWorkflows.Shell.ShellCommand.Of("true")));
        Assert.Contains("daemon", e.Message, StringComparison.Ordinal);
        Assert.Equal(72, e.Result.ExitStatus);
    }
}

/// <summary>Host jobs over SSH (the sshd's SetEnv PATH has the daemon(8) shim first, as the lab's jail host).</summary>
[Collection(SshdCollection.Name)]
public sealed class HostJobsSshTests(SshdFixture sshd) : IAsyncLifetime
{
    private string _dir = string.Empty;
    private HostJobsContract _contract = null!;

    public Task InitializeAsync()
    {
        if (Environment.IsPrivilegedProcess)
        {
            _dir = Directory.CreateTempSubdirectory("jailwf-hosts-jobs-ssh-").FullName;
            _contract = new HostJobsContract(() => new SshHost(sshd.Modern), _dir);
        }

        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_dir.Length > 0)
        {
            await _contract.DisposeAsync();
            Directory.Delete(_dir, recursive: true);
        }
    }

    [RootFact]
    public Task StartPollOutputAndExit() => _contract.StartPollOutputAndExit();

    [RootFact]
    public Task OutputComesInChunksByteExact() => _contract.OutputComesInChunksByteExact();

    [RootFact]
    public Task StartIsIdempotent() => _contract.StartIsIdempotent();

    [RootFact]
    public Task InterruptedStartIsCompleted() => _contract.InterruptedStartIsCompleted();

    [RootFact]
    public Task KilledJobIsLost() => _contract.KilledJobIsLost();

    [RootFact]
    public Task KillEndsTheWholeProcessGroup() => _contract.KillEndsTheWholeProcessGroup();

    [RootFact]
    public Task MakeJobsOutsideTheJobsProcessGroupKeepItRunning() => _contract.MakeJobsOutsideTheJobsProcessGroupKeepItRunning();

    [RootFact]
    public Task KillEndsEveryProcessOfTheSession() => _contract.KillEndsEveryProcessOfTheSession();

    [RootFact]
    public Task JobDirectoryWithoutSessionFallsBackToItsProcessGroup() => _contract.JobDirectoryWithoutSessionFallsBackToItsProcessGroup();

    [RootFact]
    public Task ReattachAfterEngineRestart() => _contract.ReattachAfterEngineRestart();

    [RootFact]
    public Task QuotingReachesTheJobVerbatim() => _contract.QuotingReachesTheJobVerbatim();

    [RootFact]
    public async Task JobSurvivesTheSshConnection()
    {
        // The job is detached from the SSH session: closing the connection that started it does not end it.
        var go = Path.Combine(_dir, "go-survive");
        var host = new SshHost(sshd.Modern);
        var jobs = new HostJobs(host, _contract.JobsDir);
        var started = await jobs.StartAsync("survive", JailWorkflows.Shell.ShellCommand.Of("sh", "-c", "while [ ! -e \"$1\" ]; do sleep 0.02; done; echo survived", "sh", go));
        await host.DisposeAsync();
        Assert.True(Procs.IsAlive(started.ProcessId!.Value));

        await File.WriteAllTextAsync(go, string.Empty);
        var other = _contract.NewJobs();
        var end = await Eventually.UntilAsync(() => other.PollAsync("survive", 0), s => s.IsFinished, "the job to end");
        Assert.Equal(0, end.ExitStatus);
        Assert.Equal("survived\n", end.NewOutputText);
    }
}
