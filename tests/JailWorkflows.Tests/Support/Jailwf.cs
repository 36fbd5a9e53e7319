using System.Diagnostics;
using System.Text;

namespace JailWorkflows.Tests.Support;

/// <summary>The jailwf CLI as a real child process (so it can be killed with SIGKILL).</summary>
internal sealed class Jailwf : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private Jailwf(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (_stdout) { _stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (_stderr) { _stderr.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code, once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    public string StdOut { get { lock (_stdout) { return _stdout.ToString(); } } }

    public string StdErr { get { lock (_stderr) { return _stderr.ToString(); } } }

    public static string DllPath => typeof(JailWorkflows.Cli.Program).Assembly.Location;

    public static Jailwf Start(params string[] args) => StartWith(null, args);

    /// <summary>Starts jailwf with extra environment variables (e.g. PATH with a daemon(8) shim for a local jail host).</summary>
    public static Jailwf StartWith(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(DllPath);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["NO_COLOR"] = "1";
        info.Environment.Remove("JAILWF_DB");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        process.StandardInput.Close();
        return new Jailwf(process);
    }

    public static async Task<(int Exit, string StdOut, string StdErr)> RunAsync(TimeSpan timeout, params string[] args)
    {
        using var run = Start(args);
        var exit = await run.WaitAsync(timeout);
        return (exit, run.StdOut, run.StdErr);
    }

    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"jailwf did not exit within {timeout.TotalSeconds:0} s.\nstdout:\n{StdOut}\nstderr:\n{StdErr}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>For a <c>jailwf serve</c> process: waits until its control socket answers; fails at once when it exits.</summary>
    public async Task WaitForServeAsync(string database, TimeSpan timeout)
    {
        await Wait.UntilAsync(
            async () =>
            {
                Assert.False(HasExited, $"serve exited {(HasExited ? ExitCode : 0)}: {StdErr}{StdOut}");
                using var client = await JailWorkflows.Server.ServeClient.ConnectAsync(database);
                return client is not null;
            },
            timeout,
            "serve's control socket");
    }

    /// <summary>SIGTERM, as rc.d or systemd stop a service.</summary>
    public void Terminate()
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }
    }

    /// <summary>SIGKILL, as a crash would: no cleanup runs in the engine.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-KILL", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
            _process.WaitForExit();
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
