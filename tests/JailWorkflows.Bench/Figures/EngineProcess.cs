using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace JailWorkflows.Bench.Figures;

/// <summary>
/// The jailwf CLI as a real child process (<c>dotnet jailwf.dll …</c>: the muxer hosts the runtime in the same process,
/// so its pid is the engine's), with its output kept, SIGKILL by pid, and its CPU time and RSS read from /proc.
/// </summary>
internal sealed class EngineProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private EngineProcess(Process process, long startedAt)
    {
        _process = process;
        StartedAt = startedAt;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The jailwf program (the CLI assembly beside the bench).</summary>
    public static string DllPath => typeof(JailWorkflows.Cli.Program).Assembly.Location;

    /// <summary>The process id.</summary>
    public int Pid => _process.Id;

    /// <summary>The <see cref="Stopwatch"/> timestamp taken right before the process was spawned.</summary>
    public long StartedAt { get; }

    /// <summary>Whether it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Standard output and error, interleaved as they came.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Spawns <c>dotnet jailwf.dll <paramref name="args"/></c> (NO_COLOR, no JAILWF_DB, standard input closed).</summary>
    public static EngineProcess Start(params string[] args) => StartDll(DllPath, args);

    /// <summary>Spawns <c>dotnet <paramref name="dll"/> <paramref name="args"/></c>, e.g. a published (ReadyToRun) jailwf.dll.</summary>
    public static EngineProcess StartDll(string dll, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["NO_COLOR"] = "1";
        info.Environment.Remove("JAILWF_DB");
        var startedAt = Stopwatch.GetTimestamp();
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        process.StandardInput.Close();
        return new EngineProcess(process, startedAt);
    }

    /// <summary>Runs jailwf to its end.</summary>
    /// <returns>The exit code and the output.</returns>
    /// <exception cref="TimeoutException">It did not end within <paramref name="timeout"/> (it was killed).</exception>
    public static Task<(int Exit, string Output)> RunAsync(TimeSpan timeout, CancellationToken cancellationToken, params string[] args)
        => RunDllAsync(DllPath, timeout, cancellationToken, args);

    /// <summary>Runs <c>dotnet <paramref name="dll"/> <paramref name="args"/></c> to its end.</summary>
    /// <returns>The exit code and the output.</returns>
    /// <exception cref="TimeoutException">It did not end within <paramref name="timeout"/> (it was killed).</exception>
    public static async Task<(int Exit, string Output)> RunDllAsync(string dll, TimeSpan timeout, CancellationToken cancellationToken, params string[] args)
    {
        using var process = StartDll(dll, args);
        var exit = await process.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        return (exit, process.Output);
    }

    /// <summary>Waits for the exit.</summary>
    /// <exception cref="TimeoutException">It did not end within <paramref name="timeout"/> (it was killed).</exception>
    public async Task<int> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Kill();
            throw new TimeoutException($"jailwf did not exit within {timeout.TotalSeconds:0} s:\n{Output}");
        }

        _process.WaitForExit(); // drains the output
        return _process.ExitCode;
    }

    /// <summary>SIGKILL (as a crash: nothing runs in the engine), then waits until it is gone.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(); // SIGKILL on Unix, to this process only
            _process.WaitForExit();
        }
    }

    /// <summary>SIGTERM (as rc.d stops a service), then waits up to <paramref name="timeout"/>; SIGKILL after that.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync().ConfigureAwait(false);
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    /// <summary>User plus system CPU time of the process so far (utime + stime of /proc/&lt;pid&gt;/stat, proc(5)).</summary>
    /// <returns>The CPU time, or null when the process is gone.</returns>
    public TimeSpan? CpuTime()
    {
        try
        {
            var text = File.ReadAllText($"/proc/{Pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');

            // After the ")": state is field 3 of proc(5), so utime (14) and stime (15) are at 11 and 12 here.
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / (double)ClockTicksPerSecond);
        }
        catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>The process's peak resident set (VmHWM of /proc/&lt;pid&gt;/status), in bytes; null when gone.</summary>
    public long? PeakRss() => StatusKiB("VmHWM:") * 1024;

    /// <summary>The engine's resident memory now and its peak so far (/proc/&lt;pid&gt;/status VmRSS, VmHWM), bytes; null once it ended.</summary>
    public (long Rss, long Hwm)? Memory() => StatusKiB("VmRSS:") is { } rss && StatusKiB("VmHWM:") is { } hwm ? (rss * 1024, hwm * 1024) : null;

    private long? StatusKiB(string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{Pid}/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>USER_HZ (sysconf(_SC_CLK_TCK)); 100 on every Linux this runs on, read from getconf when possible.</summary>
    public static long ClockTicksPerSecond { get; } = ReadClockTicks();

    private static long ReadClockTicks()
    {
        try
        {
            using var getconf = Process.Start(new ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true, UseShellExecute = false });
            var text = getconf!.StandardOutput.ReadToEnd().Trim();
            getconf.WaitForExit();
            return long.TryParse(text, CultureInfo.InvariantCulture, out var hz) && hz > 0 ? hz : 100;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return 100;
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <summary>Kills the process if it still runs.</summary>
    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
