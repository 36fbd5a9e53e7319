using System.Diagnostics;
using System.Globalization;

namespace JailWorkflows.Tests.Hosts;

/// <summary>A fact that needs root (sshd on port 22 of a loopback alias); skipped with the reason otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Skip = "Needs root: starts OpenSSH sshd on 127.0.77.x:22 (CI runs as root).";
        }
    }
}

internal static class Eventually
{
    /// <summary>Polls <paramref name="probe"/> until <paramref name="done"/> holds; fails after <paramref name="timeout"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? TimeSpan.FromSeconds(20);
        while (true)
        {
            var value = await probe();
            if (done(value))
            {
                return value;
            }

            if (deadline.Elapsed > limit)
            {
                Assert.Fail($"Timed out after {limit} waiting for {what}; last value: {value}");
            }

            await Task.Delay(25);
        }
    }

    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        UntilAsync(() => Task.FromResult(condition()), ok => ok, what, timeout);
}

/// <summary>Process facts read from /proc (the test machine is Linux; the SSH hosts are this machine too).</summary>
internal static class Procs
{
    /// <summary>True when the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        var stat = ReadStat(pid);
        return stat is not null && stat.Value.State != 'Z';
    }

    public static int? ProcessGroup(int pid) => ReadStat(pid)?.Pgid;

    /// <summary>The session id (setsid(2)) of a process; null when there is no such process.</summary>
    public static int? Session(int pid) => ReadStat(pid)?.Sid;

    /// <summary>Live (non-zombie) processes of session <paramref name="sid"/>.</summary>
    public static IReadOnlyList<int> SessionMembers(int sid)
    {
        var members = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ReadStat(pid) is { } stat && stat.Sid == sid && stat.State != 'Z')
            {
                members.Add(pid);
            }
        }

        return members;
    }

    /// <summary>Live (non-zombie) processes whose process group is <paramref name="pgid"/>.</summary>
    public static IReadOnlyList<int> GroupMembers(int pgid)
    {
        var members = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ReadStat(pid) is { } stat && stat.Pgid == pgid && stat.State != 'Z')
            {
                members.Add(pid);
            }
        }

        return members;
    }

    public static IReadOnlyList<int> Children(int parent)
    {
        var children = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ReadStat(pid) is { } stat && stat.Ppid == parent)
            {
                children.Add(pid);
            }
        }

        return children;
    }

    /// <summary>SIGKILLs a process and all its descendants (processes this test started, directly or through its sshd).</summary>
    public static void KillTree(int pid)
    {
        var all = new List<int> { pid };
        for (var i = 0; i < all.Count; i++)
        {
            all.AddRange(Children(all[i]));
        }

        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-s", "KILL", "--" } }.WithArguments(all))!;
        kill.WaitForExit();
    }

    public static void KillGroup(int pgid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-s", "KILL", "--", "-" + pgid.ToString(CultureInfo.InvariantCulture) } })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static (char State, int Ppid, int Pgid, int Sid)? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // pid (comm) state ppid pgrp session …; comm may hold spaces and parentheses: split after the last ')'.
        var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return (rest[0][0], int.Parse(rest[1], CultureInfo.InvariantCulture), int.Parse(rest[2], CultureInfo.InvariantCulture), int.Parse(rest[3], CultureInfo.InvariantCulture));
    }
}

internal static class StartInfoExtensions
{
    public static ProcessStartInfo WithArguments(this ProcessStartInfo info, IEnumerable<int> pids)
    {
        foreach (var pid in pids)
        {
            info.ArgumentList.Add(pid.ToString(CultureInfo.InvariantCulture));
        }

        return info;
    }
}

/// <summary>Runs a program and returns its standard output; fails the test when it exits non-zero.</summary>
internal static class Run
{
    public static string Checked(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {p.ExitCode}: {stderr}");
        return stdout.Result;
    }
}

/// <summary>The daemon(8) shim for tests: <c>daemon -f -p pidfile -o outputfile command…</c>, detached with setsid.</summary>
internal static class DaemonShim
{
    public const string Script = """
        #!/bin/bash
        # Test shim with daemon(8)'s contract for -f -p pidfile -o output_file: the command runs detached in its
        # own session (setsid, so its own process group), its pid in pidfile, its output appended to output_file.
        pidfile= out=/dev/null
        while getopts 'fp:o:' opt; do
          case $opt in
            f) ;;
            p) pidfile=$OPTARG ;;
            o) out=$OPTARG ;;
            *) echo "usage: daemon [-f] [-p pidfile] [-o output_file] command arguments ..." >&2; exit 1 ;;
          esac
        done
        shift $((OPTIND - 1))
        if [ $# -eq 0 ]; then echo "usage: daemon [-f] [-p pidfile] [-o output_file] command arguments ..." >&2; exit 1; fi
        setsid -f /bin/sh -c 'if [ -n "$0" ]; then echo $$ > "$0"; fi; exec "$@"' "$pidfile" "$@" </dev/null >>"$out" 2>&1
        """;

    /// <summary>Writes the shim into <paramref name="dir"/>/daemon (mode 0755) and returns a PATH with that directory first.</summary>
    public static string Install(string dir)
    {
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "daemon");
        File.WriteAllText(path, Script.ReplaceLineEndings("\n") + "\n");
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("The daemon(8) shim needs a Unix host.");
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return dir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    }
}
