using JailWorkflows.Shell;

namespace JailWorkflows.Hosts;

/// <summary>The outcome of a command run on a host.</summary>
/// <param name="ExitStatus">The exit status; 128+n style values or -1 when the command was ended by a signal and the host reports none.</param>
/// <param name="StdOut">Everything the command wrote to standard output (UTF-8).</param>
/// <param name="StdErr">Everything the command wrote to standard error (UTF-8).</param>
public sealed record CommandResult(int ExitStatus, string StdOut, string StdErr)
{
    /// <summary>True when the exit status is 0.</summary>
    public bool Succeeded => ExitStatus == 0;
}

/// <summary>
/// A machine commands run on: this machine (<c>LocalHost</c>) or one reached over SSH
/// (<c>SshHost</c>). Commands are <see cref="ShellCommand"/>s, so every argument was quoted once.
/// Commands are short (seconds); anything longer is a host job (<c>HostJobs</c>).
/// </summary>
public abstract class Host : IAsyncDisposable
{
    /// <summary>A name for messages and the journal (e.g. <c>jailhost</c> or <c>root@127.0.1.1:22</c>).</summary>
    public abstract string Name { get; }

    /// <summary>Runs a command through sh(1) on the host, without a pty, and waits for it.</summary>
    /// <param name="command">The command line.</param>
    /// <param name="standardInput">Bytes written to the command's standard input, then closed; null for none (<c>/dev/null</c>).</param>
    /// <param name="cancellationToken">Cancels the wait and closes the channel.</param>
    /// <returns>Exit status and output.</returns>
    /// <exception cref="HostUnreachableException">The host cannot be reached or its connection dropped.</exception>
    /// <exception cref="HostKeyMismatchException">The host presented a key other than the pinned one.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public abstract Task<CommandResult> RunAsync(ShellCommand command, byte[]? standardInput = null, CancellationToken cancellationToken = default);

    /// <summary>Runs a command and throws when it exits non-zero.</summary>
    /// <param name="command">The command line.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The command's standard output.</returns>
    /// <exception cref="HostCommandException">The command exited non-zero; carries its status and standard error.</exception>
    public async Task<string> RunCheckedAsync(ShellCommand command, CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(command, null, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new HostCommandException(Name, command, result);
        }

        return result.StdOut;
    }

    /// <summary>Writes a file on the host atomically (a temporary file beside it, then rename(2)).</summary>
    /// <param name="path">Absolute path of the file.</param>
    /// <param name="content">The bytes.</param>
    /// <param name="mode">Octal permission bits, e.g. <c>"0644"</c> or <c>"0600"</c>.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="HostCommandException">Writing failed on the host.</exception>
    public async Task WriteFileAsync(string path, byte[] content, string mode = "0644", CancellationToken cancellationToken = default)
    {
        // A temporary name of this write's own: concurrent writers of one file must not share it.
        var temp = path + ".jailwf-tmp." + Guid.NewGuid().ToString("N");
        var command = ShellCommand.Of("cat").RedirectTo(temp)
            .And(ShellCommand.Of("chmod", mode, temp))
            .And(ShellCommand.Of("mv", "-f", temp, path))
            .Or(ShellCommand.Of("rm", "-f", temp).Then(ShellCommand.Of("exit", "1")).Subshell());
        var result = await RunAsync(command, content, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new HostCommandException(Name, command, result);
        }
    }

    /// <summary>Reads a file on the host.</summary>
    /// <param name="path">Absolute path.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The file's text, or null when it does not exist.</returns>
    public async Task<string?> ReadFileAsync(string path, CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(
            ShellCommand.Of("test", "-e", path).And(ShellCommand.Of("cat", path)).Or(ShellCommand.Of("exit", "3")),
            null,
            cancellationToken).ConfigureAwait(false);
        return result.ExitStatus switch
        {
            0 => result.StdOut,
            3 => null,
            _ => throw new HostCommandException(Name, ShellCommand.Of("cat", path), result),
        };
    }

    /// <inheritdoc />
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}

/// <summary>A command on a host exited non-zero.</summary>
public sealed class HostCommandException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="host">The host's name.</param>
    /// <param name="command">The command that failed.</param>
    /// <param name="result">Its result.</param>
    public HostCommandException(string host, ShellCommand command, CommandResult result)
        : base($"On {host}: '{command}' exited {result.ExitStatus}: {Tail(result.StdErr)}")
    {
        Host = host;
        Command = command.Text;
        Result = result;
    }

    /// <summary>The host's name.</summary>
    public string Host { get; }

    /// <summary>The command line.</summary>
    public string Command { get; }

    /// <summary>The result.</summary>
    public CommandResult Result { get; }

    private static string Tail(string text)
    {
        var t = text.Trim();
        return t.Length <= 400 ? t : "…" + t[^400..];
    }
}

/// <summary>A host could not be reached (connection refused, timeout, authentication failure, dropped connection).</summary>
public sealed class HostUnreachableException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="host">The host (address and port, or name).</param>
    /// <param name="message">What happened.</param>
    /// <param name="inner">The underlying error.</param>
    public HostUnreachableException(string host, string message, Exception? inner = null)
        : base($"Host {host} is unreachable: {message}", inner) => Host = host;

    /// <summary>The host.</summary>
    public string Host { get; }
}

/// <summary>A host presented a host key other than the one pinned in the plan: the connection was refused.</summary>
public sealed class HostKeyMismatchException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="host">The host.</param>
    /// <param name="expectedFingerprint">The pinned key's SHA256 fingerprint (<c>SHA256:…</c>).</param>
    /// <param name="actualFingerprint">The presented key's SHA256 fingerprint.</param>
    public HostKeyMismatchException(string host, string expectedFingerprint, string actualFingerprint)
        : base($"Host key of {host} does not match the pinned key: expected {expectedFingerprint}, the host presented {actualFingerprint}. If the host was reinstalled, verify the new key out of band and update the plan.")
    {
        Host = host;
        ExpectedFingerprint = expectedFingerprint;
        ActualFingerprint = actualFingerprint;
    }

    /// <summary>The host.</summary>
    public string Host { get; }

    /// <summary>The pinned key's fingerprint.</summary>
    public string ExpectedFingerprint { get; }

    /// <summary>The presented key's fingerprint.</summary>
    public string ActualFingerprint { get; }
}
