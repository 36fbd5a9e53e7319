using System.Globalization;
using System.Text;
using JailWorkflows.Hosts;
using JailWorkflows.Shell;

namespace JailWorkflows.Tests.Hosts;

/// <summary>What every <see cref="Host"/> must do; run against LocalHost and SshHost.</summary>
internal static class HostContract
{
    /// <summary>Arguments that break naive quoting.</summary>
    public static readonly string[] NastyArguments =
    [
        "with space",
        "it's",
        "\"double\"",
        "$(touch MARKER)",
        "`touch MARKER`",
        "a;touch MARKER",
        "line1\nline2",
        "*",
        "$HOME",
        "back\\slash",
        string.Empty,
        "-n",
        "tab\there",
        "|&<>",
        "Grüße ☃",
    ];

    public static async Task OutputAndStatus(Host host)
    {
        var result = await host.RunAsync(ShellCommand.Of("sh", "-c", "echo out; echo err >&2; exit 7"));
        Assert.Equal(7, result.ExitStatus);
        Assert.False(result.Succeeded);
        Assert.Equal("out\n", result.StdOut);
        Assert.Equal("err\n", result.StdErr);

        var ok = await host.RunAsync(ShellCommand.Of("true"));
        Assert.True(ok.Succeeded);

        // Operators of ShellCommand keep sh(1) semantics on every host (also behind a csh login shell).
        var chained = await host.RunAsync(ShellCommand.Of("false").Or(ShellCommand.Of("echo", "or")).And(ShellCommand.Of("echo", "and")).MergeStdErr());
        Assert.Equal("or\nand\n", chained.StdOut);

        var checkedFailure = await Assert.ThrowsAsync<HostCommandException>(() => host.RunCheckedAsync(ShellCommand.Of("sh", "-c", "echo bad >&2; exit 3")));
        Assert.Equal(3, checkedFailure.Result.ExitStatus);
        Assert.Contains("bad", checkedFailure.Message, StringComparison.Ordinal);
    }

    public static async Task StandardInputIsBinarySafe(Host host)
    {
        // Every byte value, then LF and CR LF: a pty would turn LF into CR LF (and eat control characters).
        var input = Enumerable.Range(0, 256).Select(i => (byte)i).Concat("a\nb\r\nc\n"u8.ToArray()).ToArray();
        var result = await host.RunAsync(ShellCommand.Of("od", "-An", "-v", "-tx1"), input);
        Assert.True(result.Succeeded, result.StdErr);
        var echoed = result.StdOut.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
            .Select(h => byte.Parse(h, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(input, echoed);

        // Output keeps LF too, and there is no terminal on either side.
        var tty = await host.RunAsync(ShellCommand.Of("sh", "-c", "printf 'x\\ny\\n'; [ -t 0 ] || echo stdin-not-a-tty; [ -t 1 ] || echo stdout-not-a-tty"));
        Assert.Equal("x\ny\nstdin-not-a-tty\nstdout-not-a-tty\n", tty.StdOut);

        // No input: the command sees EOF at once (cat does not hang).
        var empty = await host.RunAsync(ShellCommand.Of("wc", "-c"));
        Assert.Equal("0", empty.StdOut.Trim());

        // A command that does not read its input still completes.
        var unread = await host.RunAsync(ShellCommand.Of("echo", "done"), new byte[1 << 20]);
        Assert.Equal("done\n", unread.StdOut);

        // Larger input arrives complete.
        var big = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 50_000).Select(i => i.ToString(CultureInfo.InvariantCulture) + "\n")));
        var count = await host.RunAsync(ShellCommand.Of("wc", "-c"), big);
        Assert.Equal(big.Length.ToString(CultureInfo.InvariantCulture), count.StdOut.Trim());
    }

    public static async Task ArgumentsArriveVerbatim(Host host, string workDir)
    {
        Directory.CreateDirectory(workDir);
        var marker = Path.Combine(workDir, "MARKER");
        var args = NastyArguments.Select(a => a.Replace("MARKER", marker, StringComparison.Ordinal)).ToArray();
        var result = await host.RunAsync(ShellCommand.Of("printf", ["%s\n", .. args]));
        Assert.True(result.Succeeded, result.StdErr);
        Assert.Equal(string.Concat(args.Select(a => a + "\n")), result.StdOut);
        Assert.False(File.Exists(marker), "an argument was interpreted by a shell");

        // Also through environment assignments and redirections.
        var file = Path.Combine(workDir, "out file $(x) 'q'");
        var env = await host.RunAsync(ShellCommand.Of("sh", "-c", "printf '%s' \"$V\"")
            .WithEnvironment([KeyValuePair.Create("V", args[5])]).RedirectTo(file));
        Assert.True(env.Succeeded, env.StdErr);
        Assert.Equal(args[5], File.ReadAllText(file));
        Assert.False(File.Exists(marker));
    }

    public static async Task FilesRoundTrip(Host host, string workDir)
    {
        Directory.CreateDirectory(workDir);
        var path = Path.Combine(workDir, "written file");
        var content = Encoding.UTF8.GetBytes("line 1\nGrüße\r\n\0binary\n");
        await host.WriteFileAsync(path, content, "0600");
        Assert.Equal(content, File.ReadAllBytes(path));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        Assert.Equal([path], Directory.GetFiles(workDir)); // no temporary file left beside it

        // Concurrent writers of one file (several instances writing one known_hosts) all succeed.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => host.WriteFileAsync(path, Encoding.UTF8.GetBytes($"writer {i}\n"), "0644")));
        Assert.StartsWith("writer ", File.ReadAllText(path), StringComparison.Ordinal);
        Assert.Equal([path], Directory.GetFiles(workDir));
        Assert.Null(await host.ReadFileAsync(Path.Combine(workDir, "missing")));
        File.WriteAllText(path, "text\n");
        Assert.Equal("text\n", await host.ReadFileAsync(path));
    }

    /// <summary>Cancelling ends the command and the children it started (the whole tree), and throws.</summary>
    public static async Task CancellationEndsTheCommandTree(Host host, string workDir)
    {
        Directory.CreateDirectory(workDir);
        var shellPid = Path.Combine(workDir, "shell.pid");
        var childPid = Path.Combine(workDir, "child.pid");
        using var cts = new CancellationTokenSource();
        var run = host.RunAsync(
            ShellCommand.Of("sh", "-c", "echo $$ > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; sleep 1000 & echo $! > \"$2.tmp\"; mv \"$2.tmp\" \"$2\"; wait", "sh", shellPid, childPid),
            null,
            cts.Token);
        await Eventually.UntilAsync(() => File.Exists(shellPid) && File.Exists(childPid), "the command to start");
        var pids = new[] { int.Parse(File.ReadAllText(shellPid), CultureInfo.InvariantCulture), int.Parse(File.ReadAllText(childPid), CultureInfo.InvariantCulture) };
        Assert.All(pids, pid => Assert.True(Procs.IsAlive(pid)));

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        await Eventually.UntilAsync(() => !pids.Any(Procs.IsAlive), "the command and its child to end");

        // The host is still usable afterwards.
        Assert.Equal("after\n", (await host.RunAsync(ShellCommand.Of("echo", "after"))).StdOut);
    }
}
