using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.Discovery;

/// <summary><c>jailwf discover</c> bad input and an unreachable host, through the real process (no lab needed).</summary>
public sealed class DiscoverCliTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-discover-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("root@", "is not [user@]host[:port]")]
    [InlineData("root@127.0.93.1:70000", "is not a TCP port")]
    [InlineData("root@host;reboot", "is neither an IPv4 address nor a host name")]
    [InlineData("root@127.0.93.1 --jail-ip 10.0.0.300", "--jail-ip")]
    [InlineData("root@127.0.93.1 --jail-name ../etc", "--jail-name")]
    [InlineData("root@127.0.93.1 --host-key ssh-rsa", "--host-key")]
    public async Task Bad_arguments_exit_2_naming_the_problem_before_any_connection(string args, string message)
    {
        var key = Path.Combine(_dir, "key");
        await File.WriteAllTextAsync(key, "not used");
        var (exit, _, stderr) = await Jailwf.RunAsync(Timeout, ["discover", .. args.Split(' '), "--key", key]);

        Assert.True(exit == 2, $"exit {exit}: {stderr}");
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_key_file_exits_2()
    {
        var (exit, _, stderr) = await Jailwf.RunAsync(Timeout, "discover", "root@127.0.93.1", "--key", Path.Combine(_dir, "missing"));

        Assert.True(exit == 2, $"exit {exit}: {stderr}");
        Assert.Contains("missing", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_where_nothing_listens_exits_3_and_writes_no_plan()
    {
        var key = Path.Combine(_dir, "key");
        await File.WriteAllTextAsync(key, "not used");
        var output = Path.Combine(_dir, "plan.yaml");

        // Port 1 on a loopback address: nothing listens, the connection is refused at once.
        var (exit, _, stderr) = await Jailwf.RunAsync(Timeout, "discover", "root@127.0.93.1:1", "--key", key, "--out", output);

        Assert.True(exit == 3, $"exit {exit}: {stderr}");
        Assert.Contains("unreachable", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }
}
