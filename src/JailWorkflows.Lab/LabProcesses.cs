using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace JailWorkflows.Lab;

/// <summary>The outcome of a local command.</summary>
internal sealed record LocalResult(int ExitCode, string StdOut, string StdErr);

/// <summary>Local processes for the lab: run a program (argv, no shell), check and end processes by pid.</summary>
internal static partial class LabProcesses
{
    /// <summary>Runs a program and waits for it; never through a shell.</summary>
    public static async Task<LocalResult> RunAsync(
        string program,
        IEnumerable<string> arguments,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null,
        string? standardInput = null)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        using var process = Process.Start(psi) ?? throw new LabException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput.AsMemory(), cancellationToken).ConfigureAwait(false);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return new LocalResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>Runs a program and throws <see cref="LabException"/> when it exits non-zero.</summary>
    public static async Task<string> RunCheckedAsync(
        string program,
        IEnumerable<string> arguments,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var args = arguments.ToList();
        var r = await RunAsync(program, args, cancellationToken, environment).ConfigureAwait(false);
        if (r.ExitCode != 0)
        {
            throw new LabException($"'{program} {string.Join(' ', args)}' exited {r.ExitCode}: {r.StdErr.Trim()} {r.StdOut.Trim()}".Trim());
        }

        return r.StdOut;
    }

    /// <summary>The start time of a process (clock ticks since boot, /proc/&lt;pid&gt;/stat field 22), or null when it is gone.</summary>
    public static long? StartTime(int pid)
    {
        if (pid <= 0)
        {
            return null;
        }

        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // comm may contain spaces and parentheses: fields start after the last ')'.
        var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

        // rest[0] is field 3 (state); field 22 is rest[19].
        if (rest.Length < 20 || rest[0] == "Z")
        {
            return null;
        }

        return long.Parse(rest[19], CultureInfo.InvariantCulture);
    }

    /// <summary>True when <paramref name="pid"/> runs and is the process recorded with <paramref name="startTime"/>.</summary>
    public static bool IsSameProcess(int pid, long startTime) => StartTime(pid) == startTime;

    /// <summary>The command line of a process (NULs as spaces), or empty.</summary>
    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return string.Empty;
        }
        catch (UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    /// <summary>The argv of a process, or empty.</summary>
    public static IReadOnlyList<string> Argv(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Sends a signal to exactly this pid (kill(2)).</summary>
    public static void Signal(int pid, int signal) => _ = Kill(pid, signal);

    /// <summary>
    /// Ends a recorded process by pid: SIGTERM (or SIGKILL when <paramref name="killAtOnce"/>), then SIGKILL after
    /// <paramref name="grace"/>; only while it is still the recorded process (same start time).
    /// </summary>
    public static async Task EndAsync(int pid, long startTime, bool killAtOnce, TimeSpan grace, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!IsSameProcess(pid, startTime))
        {
            return;
        }

        Signal(pid, killAtOnce ? SigKill : SigTerm);
        if (await WaitGoneAsync(pid, startTime, grace, time, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        if (IsSameProcess(pid, startTime))
        {
            Signal(pid, SigKill);
        }

        await WaitGoneAsync(pid, startTime, TimeSpan.FromSeconds(5), time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Polls until the recorded process is gone or the deadline passes; true when gone.</summary>
    public static async Task<bool> WaitGoneAsync(int pid, long startTime, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + timeout;
        while (IsSameProcess(pid, startTime))
        {
            if (time.GetUtcNow() > deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), time, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    public const int SigKill = 9;
    public const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int sig);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkNative(string existing, string newPath);

    /// <summary>Creates a hard link (link(2)).</summary>
    public static void HardLink(string existing, string newPath)
    {
        if (LinkNative(existing, newPath) != 0)
        {
            throw new LabException($"link({existing}, {newPath}) failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>Writes a text file with LF line ends, UTF-8 without BOM, and sets its mode.</summary>
    public static void WriteText(string path, string text, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.Replace("\r\n", "\n", StringComparison.Ordinal), new UTF8Encoding(false));
        SetMode(path, mode);
    }

    /// <summary>chmod(2); a no-op on Windows, where the lab does not run.</summary>
    public static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    /// <summary>rwxr-xr-x.</summary>
    public const UnixFileMode Executable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>rw-------.</summary>
    public const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
}
