using System.Diagnostics;
using JailWorkflows.Shell;

namespace JailWorkflows.Tests.FreeBsd;

/// <summary>Runs a ShellCommand through the real /bin/sh, to prove what argv it yields.</summary>
internal static class ShellRunner
{
    public static (int Status, string StdOut, string StdErr) Run(ShellCommand command, string? pathPrefix = null, string? workingDirectory = null, string? stdin = null)
    {
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command.Text);
        if (pathPrefix is not null)
        {
            psi.Environment["PATH"] = pathPrefix + ":" + Environment.GetEnvironmentVariable("PATH");
        }

        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
        }

        p.StandardInput.Close();
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, outTask.Result, errTask.Result);
    }

    /// <summary>The argv a command runs, as seen by a program: replaces the program by printf in a subshell.</summary>
    public static IReadOnlyList<string> ArgvOf(ShellCommand command)
    {
        // Run "printf '%s\n' <args>" by defining the program as a shell function is impossible for paths,
        // so we put a stub of the same name first in PATH.
        var dir = TempDir.Create();
        var program = command.Text.Split(' ')[0];
        var stub = Path.Combine(dir, program);
        File.WriteAllText(stub, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\n");
        TempDir.MakeExecutable(stub);
        var (status, stdout, stderr) = Run(command, dir);
        Assert.True(status == 0, stderr);
        Directory.Delete(dir, true);
        return stdout.Length == 0 ? [] : stdout[..^1].Split('\0');
    }
}

internal static class TempDir
{
    public static string Create()
    {
        var dir = Path.Combine(Path.GetTempPath(), "jwft" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void MakeExecutable(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
