using System.Diagnostics;
using System.Text;
using JailWorkflows.Shell;

namespace JailWorkflows.Hosts;

/// <summary>
/// This machine as a <see cref="Host"/>: each command runs as <c>/bin/sh -c &lt;command&gt;</c> in a child
/// process (no pty), with standard input from the given bytes (or empty), standard output and standard
/// error captured. Thread-safe: every call is its own process.
/// </summary>
public sealed class LocalHost : Host
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private readonly Dictionary<string, string> _environment;

    /// <summary>Creates the local host.</summary>
    /// <param name="environment">
    /// Environment variables set for every command, on top of this process's environment (a value
    /// replaces the inherited one). Typical use: <c>PATH</c> with a directory of FreeBSD shims first
    /// (the lab's <c>daemon</c>, <c>jls</c> …), as the lab's sshd does with <c>SetEnv</c> for SSH hosts.
    /// Null or empty: the inherited environment only. For a single command use
    /// <see cref="ShellCommand.WithEnvironment"/> instead.
    /// </param>
    public LocalHost(IReadOnlyDictionary<string, string>? environment = null)
    {
        _environment = environment is null ? [] : new Dictionary<string, string>(environment, StringComparer.Ordinal);
    }

    /// <summary>Always <c>local</c>.</summary>
    public override string Name => "local";

    /// <inheritdoc />
    /// <remarks>
    /// On cancellation the process and all its descendants still attached to it (its process tree) are
    /// killed with SIGKILL, then <see cref="OperationCanceledException"/> is thrown. Processes that
    /// detached themselves (setsid, daemon(8)) are not part of the tree and keep running, as host jobs must.
    /// The exit status of a process ended by signal <c>n</c> is <c>128+n</c>. Never throws
    /// <see cref="HostUnreachableException"/> or <see cref="HostKeyMismatchException"/>.
    /// </remarks>
    public override async Task<CommandResult> RunAsync(ShellCommand command, byte[]? standardInput = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        cancellationToken.ThrowIfCancellationRequested();

        var startInfo = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Utf8,
            StandardErrorEncoding = Utf8,
            WorkingDirectory = "/",
        };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add(command.Text);
        foreach (var (name, value) in _environment)
        {
            startInfo.Environment[name] = value;
        }

        using var process = new Process { StartInfo = startInfo };
        process.Start();

        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        var stdin = WriteStandardInputAsync(process, standardInput);

        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            throw;
        }

        await stdin.ConfigureAwait(false);
        return new CommandResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    private static async Task WriteStandardInputAsync(Process process, byte[]? bytes)
    {
        // Runs concurrently with the output readers, so a command that writes before it reads cannot deadlock.
        var stream = process.StandardInput.BaseStream;
        try
        {
            if (bytes is { Length: > 0 })
            {
                await stream.WriteAsync(bytes).ConfigureAwait(false);
                await stream.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (IOException)
        {
            // The command exited (or closed its standard input) before reading everything: EPIPE, as sh(1) would see it.
        }
        finally
        {
            try
            {
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // Same: the reading side is gone.
            }
        }
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }
}
