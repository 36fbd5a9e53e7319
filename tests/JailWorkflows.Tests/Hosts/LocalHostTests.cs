using JailWorkflows.Hosts;
using JailWorkflows.Shell;

namespace JailWorkflows.Tests.Hosts;

public sealed class LocalHostTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-hosts-local-").FullName;
    private readonly LocalHost _host = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void NameIsLocal() => Assert.Equal("local", _host.Name);

    [Fact]
    public Task OutputAndStatus() => HostContract.OutputAndStatus(_host);

    [Fact]
    public Task StandardInputIsBinarySafe() => HostContract.StandardInputIsBinarySafe(_host);

    [Fact]
    public Task ArgumentsArriveVerbatim() => HostContract.ArgumentsArriveVerbatim(_host, Path.Combine(_dir, "args"));

    [Fact]
    public Task FilesRoundTrip() => HostContract.FilesRoundTrip(_host, Path.Combine(_dir, "files"));

    [Fact]
    public Task CancellationKillsTheProcessTree() => HostContract.CancellationEndsTheCommandTree(_host, Path.Combine(_dir, "cancel"));

    [Fact]
    public async Task EnvironmentOptionSetsPathForEveryCommand()
    {
        var path = DaemonShim.Install(Path.Combine(_dir, "shims"));
        var host = new LocalHost(new Dictionary<string, string> { ["PATH"] = path, ["JAILWF_TEST"] = "a b" });
        var result = await host.RunAsync(ShellCommand.Of("sh", "-c", "command -v daemon; printf '%s\\n' \"$JAILWF_TEST\""));
        Assert.Equal(Path.Combine(_dir, "shims", "daemon") + "\na b\n", result.StdOut);

        // Without the option the inherited environment is used unchanged.
        var plain = await _host.RunAsync(ShellCommand.Of("sh", "-c", "printf '%s' \"${JAILWF_TEST-unset}\""));
        Assert.Equal("unset", plain.StdOut);
    }

    [Fact]
    public async Task SignalledCommandReports128PlusSignal()
    {
        var result = await _host.RunAsync(ShellCommand.Of("sh", "-c", "kill -s KILL $$"));
        Assert.Equal(137, result.ExitStatus);
    }
}
