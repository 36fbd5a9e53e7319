using System.Diagnostics;
using System.Text;
using JailWorkflows.Lab;
using JailWorkflows.Plans;
using JailWorkflows.Shell;

namespace JailWorkflows.Tests.Lab;

/// <summary>A fact that needs the lab: skipped with the reason when not root.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LabFactAttribute : FactAttribute
{
    public LabFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Skip = "The lab needs root (loop devices, namespaces, sshd on port 22 of loopback addresses); run the tests as root.";
        }
    }
}

/// <summary>A theory that needs the lab: skipped with the reason when not root.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LabTheoryAttribute : TheoryAttribute
{
    public LabTheoryAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Skip = "The lab needs root (loop devices, namespaces, sshd on port 22 of loopback addresses); run the tests as root.";
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LabCollection : ICollectionFixture<LabFixture>
{
    public const string Name = "Lab";
}

/// <summary>One running lab for the lab tests (in /var/tmp/jailwf-lab-test), brought down at the end.</summary>
public sealed class LabFixture : IAsyncLifetime
{
    public const string Directory = "/var/tmp/jailwf-lab-test";

    public JailWorkflows.Lab.Lab Lab { get; } = new(new LabOptions { Directory = Directory, BuildStageSeconds = 0.1 });

    /// <summary>The running lab's description; refreshed by tests that bring the lab down and up again.</summary>
    public LabInfo Info { get; set; } = null!;

    private LabLease? _lease;

    public async Task InitializeAsync()
    {
        if (Environment.IsPrivilegedProcess)
        {
            // One lab per machine (fixed addresses): wait for another test run's lab to be gone. `dotnet test` on the
            // solution runs the main and the fault test projects at once, so one waits for all of the other's lab tests.
            _lease = await LabLease.AcquireAsync(TimeSpan.FromMinutes(45));
            Info = await Lab.UpAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (Environment.IsPrivilegedProcess)
        {
            try
            {
                await Lab.DownAsync();
            }
            finally
            {
                _lease?.Dispose();
            }
        }
    }
}

/// <summary>The result of a local process.</summary>
public sealed record Run(int ExitCode, string StdOut, string StdErr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{StdOut}\nstderr:\n{StdErr}";
}

/// <summary>Real OpenSSH client calls to lab hosts, with the host key pinned from the lab's description.</summary>
public static class LabSsh
{
    public static readonly string[] LegacyOptions =
    [
        "-o", "KexAlgorithms=+diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1",
        "-o", "HostKeyAlgorithms=+ssh-rsa",
        "-o", "PubkeyAcceptedAlgorithms=+ssh-rsa",
    ];

    public static Task<Run> RunAsync(SshEndpoint endpoint, ShellCommand command, params string[] extraOptions) =>
        RunAsync(endpoint, command.Text, extraOptions);

    public static async Task<Run> RunAsync(SshEndpoint endpoint, string command, params string[] extraOptions)
    {
        var knownHosts = Path.Combine(Path.GetTempPath(), $"jailwf-lab-test-known-hosts-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(knownHosts, $"{endpoint.Address} {endpoint.HostKey}\n");
        try
        {
            // ssh(1) keeps the first value of an option: the test's own options come first.
            var args = new List<string>(extraOptions)
            {
                "-i", endpoint.KeyFile, "-p", endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", $"UserKnownHostsFile={knownHosts}",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=15", "-o", "LogLevel=ERROR",
            };
            if (endpoint.LegacySsh)
            {
                args.AddRange(LegacyOptions);
            }

            args.Add($"{endpoint.User}@{endpoint.Address}");
            args.Add(command);
            return await Local.RunAsync("ssh", args);
        }
        finally
        {
            File.Delete(knownHosts);
        }
    }
}

public static class Local
{
    public static async Task<Run> RunAsync(string program, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in time.");
        }

        return new Run(p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Polls <paramref name="condition"/> until true or the deadline passes.</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    public static bool ProcessRuns(int pid) => File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('Z');

    public static string? LoopBackingFile(string device)
    {
        var f = $"/sys/block/{Path.GetFileName(device)}/loop/backing_file";
        return File.Exists(f) ? File.ReadAllText(f).Trim() : null;
    }

    public static string Text(params string[] lines)
    {
        var sb = new StringBuilder();
        foreach (var l in lines)
        {
            sb.Append(l).Append('\n');
        }

        return sb.ToString();
    }
}
