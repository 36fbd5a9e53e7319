using System.Globalization;
using System.Net.Sockets;
using System.Text;
using JailWorkflows.Plans;
using JailWorkflows.Shell;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace JailWorkflows.Hosts;

/// <summary>
/// A host reached over SSH (SSH.NET): public key authentication only, the host key pinned, no pty.
/// </summary>
/// <remarks>
/// <para>
/// The connection is opened lazily by the first command and kept; a connection found dropped is opened
/// again once per command (only when the command had not been sent yet, so nothing runs twice).
/// Several callers may use one instance concurrently: each command is its own SSH channel on the one
/// connection (at most 10 at once, SSH.NET's and OpenSSH's MaxSessions default; more wait).
/// </para>
/// <para>
/// Every command runs as <c>exec /bin/sh -c …</c> whatever the login shell is (csh on old FreeBSD), behind
/// a one-line wrapper that first reports its pid: sshd gives each session its own process group, and on
/// cancellation or command timeout that group is SIGKILLed over a second channel (OpenSSH ignores the SSH
/// "signal" request in root sessions). Commands keep sh(1) semantics, but on a csh login shell an argument
/// must not contain a newline.
/// </para>
/// <para>
/// Algorithms: with <see cref="SshEndpoint.LegacySsh"/> false only modern ones are offered (key exchange
/// mlkem768x25519, sntrup761x25519, curve25519, ECDH, DH group-exchange-sha256, group14/16/18 with SHA-2;
/// ciphers aes-gcm, chacha20-poly1305, then aes-ctr; MACs hmac-sha2 (etm first)). With it true the
/// 2004-era set of FreeBSD 4.x (OpenSSH 3.x) is offered too, after the modern ones: key exchange
/// diffie-hellman-group-exchange-sha1 and diffie-hellman-group1-sha1, host key ssh-rsa (and ssh-dss),
/// ciphers aes128-cbc and 3des-cbc, MAC hmac-sha1 (SSH.NET 2026.0.0 has no hmac-md5). Host key
/// algorithms are limited to the pinned key's type, so a host with several keys presents the pinned one.
/// </para>
/// </remarks>
public sealed partial class SshHost : Host
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>
    /// Prints its pid (the SSH session's process group: sshd puts each session in its own with setsid(2)) as
    /// the first line of standard output, then becomes <c>sh -c "$1"</c>. The pid line is stripped from the
    /// output; on cancellation it names the group to SIGKILL (OpenSSH refuses the SSH "signal" request in
    /// root sessions, "session signalling requires privilege separation"). One line, so a csh login shell
    /// can pass it on.
    /// </summary>
    private const string WrapperWithInput = "echo $$; exec /bin/sh -c \"$1\"";

    /// <summary>As <see cref="WrapperWithInput"/>, with standard input from /dev/null (SSH.NET sends no EOF for an empty input stream).</summary>
    private const string WrapperWithoutInput = "echo $$; exec /bin/sh -c \"$1\" < /dev/null";

    private static readonly string[] ModernKeyExchange =
    [
        "mlkem768x25519-sha256", "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com",
        "curve25519-sha256", "curve25519-sha256@libssh.org",
        "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
        "diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
        "diffie-hellman-group14-sha256",
    ];

    private static readonly string[] LegacyKeyExchange = ["diffie-hellman-group-exchange-sha1", "diffie-hellman-group1-sha1"];

    private static readonly string[] ModernCiphers =
    [
        "aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com",
        "aes256-ctr", "aes192-ctr", "aes128-ctr",
    ];

    private static readonly string[] LegacyCiphers = ["aes128-cbc", "3des-cbc"];

    private static readonly string[] ModernMacs =
    [
        "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512",
    ];

    private static readonly string[] LegacyMacs = ["hmac-sha1", "hmac-md5"];

    private static readonly string[] ModernHostKeys =
    [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256",
    ];

    private static readonly string[] LegacyHostKeys = ["ssh-rsa", "ssh-dss"];

    private readonly SshEndpoint _endpoint;
    private readonly SshHostOptions _options;
    private readonly ILogger _logger;
    private readonly SshHostKey _pinned;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private SshClient? _client;
    private PrivateKeyFile? _keyFile;
    private volatile bool _disposed;

    /// <summary>Creates the host; nothing is contacted until the first command.</summary>
    /// <param name="endpoint">Address, port, user, private key file, pinned host key and the legacy flag.</param>
    /// <param name="options">Timeouts; null for the defaults of <see cref="SshHostOptions"/>.</param>
    /// <param name="logger">Logs connects and reconnects (never keys or command output); null for none.</param>
    /// <exception cref="ArgumentException">The pinned host key is not of the form <c>&lt;type&gt; &lt;base64&gt;</c>, or its type is not supported.</exception>
    public SshHost(SshEndpoint endpoint, SshHostOptions? options = null, ILogger<SshHost>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        _endpoint = endpoint;
        _options = options ?? new SshHostOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _pinned = SshHostKey.Parse(endpoint.HostKey);
        if (HostKeyAlgorithmsFor(_pinned.Type, endpoint.LegacySsh).Length == 0)
        {
            throw new ArgumentException(
                $"The pinned host key of {endpoint.User}@{endpoint.Address}:{endpoint.Port} has type '{_pinned.Type}', which is not supported{(endpoint.LegacySsh ? string.Empty : " without LegacySsh")}.",
                nameof(endpoint));
        }
    }

    /// <summary><c>user@address:port</c>.</summary>
    public override string Name => $"{_endpoint.User}@{_endpoint.Address}:{_endpoint.Port}";

    /// <summary>The endpoint this host was built from.</summary>
    public SshEndpoint Endpoint => _endpoint;

    /// <summary>The pinned host key's SHA256 fingerprint (<c>SHA256:…</c>, as ssh-keygen -lf prints it).</summary>
    public string PinnedFingerprint => _pinned.Fingerprint;

    /// <summary>Computes the SHA256 fingerprint of a public key, as <c>ssh-keygen -lf</c> prints it.</summary>
    /// <param name="publicKey"><c>&lt;type&gt; &lt;base64&gt;</c>, optionally followed by a comment (a <c>.pub</c> line).</param>
    /// <returns><c>SHA256:</c> followed by the unpadded base64 of the SHA-256 of the key blob.</returns>
    /// <exception cref="ArgumentException">Not a public key of that form, or the type does not match the blob.</exception>
    public static string Fingerprint(string publicKey) => SshHostKey.Parse(publicKey).Fingerprint;

    /// <summary>
    /// Reads the host key a server presents, without trusting it and without authenticating (for
    /// <c>jailwf discover</c>: the operator verifies the fingerprint out of band, then pins the key).
    /// The connection is abandoned right after the key exchange's host key arrives.
    /// </summary>
    /// <param name="address">IPv4 address or host name.</param>
    /// <param name="port">TCP port, usually 22.</param>
    /// <param name="legacy">Also offer the 2004-era algorithms (FreeBSD 4.x); see <see cref="SshHost"/>.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The presented key as <c>&lt;type&gt; &lt;base64&gt;</c> (an RSA key is <c>ssh-rsa …</c>).</returns>
    /// <exception cref="HostUnreachableException">Connection refused, timed out (15 seconds per step) or no common algorithm.</exception>
    public static async Task<string> ScanHostKeyAsync(string address, int port, bool legacy, CancellationToken cancellationToken) =>
        (await ScanAsync(address, port, legacy, cancellationToken).ConfigureAwait(false)).HostKey;

    /// <summary>
    /// As <see cref="ScanHostKeyAsync"/>, also returning the server's SSH identification string (RFC 4253 4.2), which
    /// tells e.g. a FreeBSD 4.x server by its <c>OpenSSH_3.x</c>. Nothing is trusted and nothing authenticated.
    /// </summary>
    /// <param name="address">IPv4 address or host name.</param>
    /// <param name="port">TCP port, usually 22.</param>
    /// <param name="legacy">Also offer the 2004-era algorithms (FreeBSD 4.x); see <see cref="SshHost"/>.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The presented key, its SHA256 fingerprint and the server's identification.</returns>
    /// <exception cref="HostUnreachableException">Connection refused, timed out (15 seconds per step) or no common
    /// algorithm; a failed algorithm negotiation has an <see cref="SshException"/> (not a <see cref="SocketException"/>)
    /// as its inner exception.</exception>
    public static async Task<SshHostScan> ScanAsync(string address, int port, bool legacy, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        const string scanUser = "jailwf-scan";
        var name = $"{address}:{port}";
        var info = new ConnectionInfo(address, port, scanUser, new NoneAuthenticationMethod(scanUser))
        {
            Timeout = new SshHostOptions().ConnectTimeout,
        };
        ConfigureAlgorithms(info, legacy, pinnedType: null);

        SshHostKey? presented = null;
        string? serverVersion = null;
        using var client = new SshClient(info);
        client.HostKeyReceived += (_, e) =>
        {
            presented = SshHostKey.FromBlob(e.HostKey);
            serverVersion = info.ServerVersion;
            e.CanTrust = false;
        };

        try
        {
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (presented is null && IsConnectFailure(e))
        {
            throw new HostUnreachableException(name, Describe(e, legacy), e);
        }
        catch (Exception e) when (presented is not null && IsConnectFailure(e))
        {
            // Expected: we refused the key on purpose.
        }

        return presented is null
            ? throw new HostUnreachableException(name, "the server presented no host key")
            : new SshHostScan(presented.Text, presented.Fingerprint, serverVersion ?? string.Empty);
    }

    /// <summary>The command text sent over the channel for <paramref name="command"/>: the pid-reporting wrapper around it.</summary>
    /// <param name="command">The command.</param>
    /// <param name="withInput">True when standard input is sent; false gives the wrapper that reads /dev/null.</param>
    /// <returns>The text.</returns>
    internal static string WireText(ShellCommand command, bool withInput) =>
        ShellCommand.Of("exec", "/bin/sh", "-c", withInput ? WrapperWithInput : WrapperWithoutInput, "jailwf", command.Text).Text;

    /// <inheritdoc />
    /// <remarks>
    /// Standard input is sent over the channel and then closed (EOF); with null the command sees EOF at once.
    /// Bytes pass unchanged: no pty is requested, so LF stays LF. On cancellation or after
    /// <see cref="SshHostOptions.CommandTimeout"/> the command's process group (its SSH session: the command
    /// and everything it started that did not detach) is SIGKILLed over a second channel, then the channel closed. A command ended by signal <c>n</c> reports
    /// <c>128+n</c>. When the connection drops while the command runs, <see cref="HostUnreachableException"/>
    /// is thrown and the command may or may not have run to completion; it is never sent twice.
    /// </remarks>
    public override async Task<CommandResult> RunAsync(ShellCommand command, byte[]? standardInput = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();

        var input = standardInput is { Length: > 0 } ? standardInput : null;
        var text = WireText(command, withInput: input is not null);
        for (var attempt = 1; ; attempt++)
        {
            var client = await GetClientAsync(cancellationToken).ConfigureAwait(false);
            SshCommand? sshCommand = null;
            Task execution;
            try
            {
                sshCommand = client.CreateCommand(text, Utf8);
                sshCommand.CommandTimeout = _options.CommandTimeout;

                // Opening the channel is synchronous in SSH.NET (it waits for the server's confirmation).
                var started = sshCommand;
                execution = (await Task.Run(() => ValueTuple.Create(started.ExecuteAsync(CancellationToken.None)), cancellationToken).ConfigureAwait(false)).Item1;
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                // The channel could not be opened, so the command was not sent: safe to reconnect and send it once more.
                sshCommand?.Dispose();
                Invalidate(client);
                if (attempt >= 2)
                {
                    throw new HostUnreachableException(Name, $"the connection failed again after reconnecting: {e.Message}", e);
                }

                LogReconnecting(_logger, Name, e.Message);
                continue;
            }
            catch
            {
                sshCommand?.Dispose();
                throw;
            }

            using (sshCommand)
            {
                return await CompleteAsync(client, sshCommand, execution, command, input, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _connectLock.WaitAsync().ConfigureAwait(false);
        try
        {
            var client = Interlocked.Exchange(ref _client, null);
            if (client is not null)
            {
                DisconnectQuietly(client);
            }

            _keyFile?.Dispose();
            _keyFile = null;
        }
        finally
        {
            _connectLock.Release();
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Puts the algorithm lists of <paramref name="info"/> in our order and drops everything else.</summary>
    /// <param name="info">The connection info to change.</param>
    /// <param name="legacy">Also allow the 2004-era set.</param>
    /// <param name="pinnedType">The pinned host key's type, limiting host key algorithms to it; null for all.</param>
    internal static void ConfigureAlgorithms(ConnectionInfo info, bool legacy, string? pinnedType)
    {
        Keep(info.KeyExchangeAlgorithms, legacy ? [.. ModernKeyExchange, .. LegacyKeyExchange] : ModernKeyExchange);
        Keep(info.Encryptions, legacy ? [.. ModernCiphers, .. LegacyCiphers] : ModernCiphers);
        Keep(info.HmacAlgorithms, legacy ? [.. ModernMacs, .. LegacyMacs] : ModernMacs);
        Keep(info.HostKeyAlgorithms, pinnedType is null
            ? (legacy ? [.. ModernHostKeys, .. LegacyHostKeys] : ModernHostKeys)
            : HostKeyAlgorithmsFor(pinnedType, legacy));
        Keep(info.CompressionAlgorithms, ["none"]);
    }

    /// <summary>The host key algorithms that verify a key of <paramref name="keyType"/>.</summary>
    /// <param name="keyType">The key's type as in known_hosts.</param>
    /// <param name="legacy">Whether SHA-1 signatures (ssh-rsa) and DSA are allowed.</param>
    /// <returns>The algorithms, best first; empty when the type is not supported.</returns>
    internal static string[] HostKeyAlgorithmsFor(string keyType, bool legacy) => keyType switch
    {
        "ssh-rsa" => legacy ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : ["rsa-sha2-512", "rsa-sha2-256"],
        "ssh-dss" => legacy ? ["ssh-dss"] : [],
        "ssh-ed25519" or "ecdsa-sha2-nistp256" or "ecdsa-sha2-nistp384" or "ecdsa-sha2-nistp521" => [keyType],
        _ => [],
    };

    private static void Keep<T>(IDictionary<string, T> algorithms, string[] order)
    {
        var kept = order.Where(algorithms.ContainsKey).Select(n => KeyValuePair.Create(n, algorithms[n])).ToList();
        algorithms.Clear();
        foreach (var (name, value) in kept)
        {
            algorithms.Add(name, value);
        }
    }

    private async Task<CommandResult> CompleteAsync(SshClient client, SshCommand sshCommand, Task execution, ShellCommand command, byte[]? input, CancellationToken cancellationToken)
    {
        var sessionPid = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reader = ReadStandardOutput(sshCommand.OutputStream, sessionPid);
        var writer = input is null ? Task.CompletedTask : WriteStandardInput(sshCommand, input);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_options.CommandTimeout != Timeout.InfiniteTimeSpan)
        {
            limit.CancelAfter(_options.CommandTimeout);
        }

        try
        {
            await execution.WaitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            await KillSessionAsync(client, sessionPid.Task, execution).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new HostUnreachableException(Name, $"'{command}' did not finish within {_options.CommandTimeout} (SshHostOptions.CommandTimeout); it was killed");
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            Invalidate(client);
            throw new HostUnreachableException(Name, $"the connection dropped while '{command}' ran: {e.Message}", e);
        }

        if (writer.IsCompleted)
        {
            // Surfaces nothing: write errors after the command ended are expected (it need not read its input).
            await writer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        var output = await reader.ConfigureAwait(false);
        var status = sshCommand.ExitStatus ?? SignalStatus(sshCommand.ExitSignal);
        return new CommandResult(status, Utf8.GetString(output), sshCommand.Error);
    }

    /// <summary>
    /// Connects and authenticates without running any command: the pinned host key is checked during the key
    /// exchange, before authentication. Used to check a plan's hosts before a workflow starts.
    /// </summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task that completes when the session is up.</returns>
    /// <exception cref="HostUnreachableException">The host cannot be reached or refused authentication.</exception>
    /// <exception cref="HostKeyMismatchException">The host presented another key than the pinned one.</exception>
    public async Task ConnectAndVerifyAsync(CancellationToken cancellationToken = default) =>
        _ = await GetClientAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Reads the command's standard output as bytes; the wrapper's first line (its pid) goes to <paramref name="sessionPid"/> and is not part of the result.</summary>
    private static Task<byte[]> ReadStandardOutput(Stream stream, TaskCompletionSource<int> sessionPid) => Task.Factory.StartNew(
        () =>
        {
            using var all = new MemoryStream();
            var buffer = new byte[16 * 1024];
            var pidLineEnd = -1;
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                all.Write(buffer, 0, read);
                if (pidLineEnd < 0 && !sessionPid.Task.IsCompleted)
                {
                    var newline = Array.IndexOf(all.GetBuffer(), (byte)'\n', 0, (int)all.Length);
                    if (newline >= 0)
                    {
                        if (int.TryParse(all.GetBuffer().AsSpan(0, newline), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                        {
                            pidLineEnd = newline;
                            sessionPid.TrySetResult(pid);
                        }
                        else
                        {
                            sessionPid.TrySetResult(0);
                        }
                    }
                }
            }

            sessionPid.TrySetResult(0);
            var bytes = all.ToArray();
            return pidLineEnd >= 0 ? bytes[(pidLineEnd + 1)..] : bytes;
        },
        CancellationToken.None,
        TaskCreationOptions.LongRunning,
        TaskScheduler.Default);

    /// <summary>
    /// SIGKILLs the cancelled command's session (its process group) over a second channel, then lets the
    /// first channel close. Best effort: errors are swallowed, the caller reports the cancellation or timeout.
    /// </summary>
    private async Task KillSessionAsync(SshClient client, Task<int> sessionPid, Task execution)
    {
        try
        {
            // The pid line is the wrapper's first action; wait for it (or for the command to end) a bounded time.
            await Task.WhenAny(sessionPid, execution).WaitAsync(_options.ConnectTimeout).ConfigureAwait(false);
            if (!sessionPid.IsCompletedSuccessfully || sessionPid.Result <= 1 || execution.IsCompleted)
            {
                return;
            }

            var pid = sessionPid.Result.ToString(CultureInfo.InvariantCulture);
            var kill = ShellCommand.Of("kill", "-s", "KILL", "--", "-" + pid).Or(ShellCommand.Of("kill", "-s", "KILL", pid));
            using var killCommand = client.CreateCommand(ShellCommand.Of("exec", "/bin/sh", "-c", kill.Text + " 2>/dev/null").Text, Utf8);
            await Task.Run(() => killCommand.ExecuteAsync(CancellationToken.None)).WaitAsync(_options.ConnectTimeout).ConfigureAwait(false);
            LogKilledSession(_logger, Name, sessionPid.Result);
        }
        catch (Exception e) when (e is TimeoutException or SshException or SocketException or ObjectDisposedException or InvalidOperationException or IOException)
        {
            LogKillFailed(_logger, Name, e.Message);
        }
    }

    private static Task WriteStandardInput(SshCommand sshCommand, byte[] bytes) => Task.Run(() =>
    {
        // Disposing the stream sends EOF (SSH.NET sends it only after at least one byte).
        try
        {
            using var input = sshCommand.CreateInputStream();
            input.Write(bytes);
        }
        catch (Exception e) when (e is SshException or ObjectDisposedException or InvalidOperationException or IOException)
        {
            // The channel closed before all input was sent: the command ended without reading it.
        }
    });

    private async Task<SshClient> GetClientAsync(CancellationToken cancellationToken)
    {
        var existing = Volatile.Read(ref _client);
        if (existing is { IsConnected: true })
        {
            return existing;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            existing = _client;
            if (existing is { IsConnected: true })
            {
                return existing;
            }

            if (existing is not null)
            {
                _client = null;
                DisconnectQuietly(existing);
                LogReconnecting(_logger, Name, "the connection was closed");
            }

            var client = await ConnectAsync(cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _client, client);
            return client;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private async Task<SshClient> ConnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            _keyFile ??= new PrivateKeyFile(_endpoint.KeyFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SshException or ArgumentException)
        {
            throw new HostUnreachableException(Name, $"the private key file '{_endpoint.KeyFile}' cannot be used: {e.Message}", e);
        }

        var info = new ConnectionInfo(
            _endpoint.Address,
            _endpoint.Port,
            _endpoint.User,
            new PrivateKeyAuthenticationMethod(_endpoint.User, _keyFile))
        {
            Timeout = _options.ConnectTimeout,
        };
        ConfigureAlgorithms(info, _endpoint.LegacySsh, _pinned.Type);

        SshHostKey? mismatch = null;
        var client = new SshClient(info);
        client.HostKeyReceived += (_, e) =>
        {
            var presented = SshHostKey.FromBlob(e.HostKey);
            if (!presented.SameKey(_pinned))
            {
                mismatch = presented;
                e.CanTrust = false;
            }
        };

        try
        {
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (mismatch is not null)
        {
            client.Dispose();
            LogHostKeyMismatch(_logger, Name, _pinned.Fingerprint, mismatch.Fingerprint);
            throw new HostKeyMismatchException(Name, _pinned.Fingerprint, mismatch.Fingerprint);
        }
        catch (Exception e) when (IsConnectFailure(e))
        {
            client.Dispose();
            throw new HostUnreachableException(Name, Describe(e, _endpoint.LegacySsh), e);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        if (_options.KeepAliveInterval != Timeout.InfiniteTimeSpan)
        {
            client.KeepAliveInterval = _options.KeepAliveInterval;
        }

        LogConnected(
            _logger,
            Name,
            info.CurrentKeyExchangeAlgorithm,
            info.CurrentHostKeyAlgorithm,
            info.CurrentClientEncryption,
            info.CurrentClientHmacAlgorithm ?? "(aead)");
        return client;
    }

    private void Invalidate(SshClient client)
    {
        if (Interlocked.CompareExchange(ref _client, null, client) == client)
        {
            DisconnectQuietly(client);
        }
    }

    private static void DisconnectQuietly(SshClient client)
    {
        try
        {
            client.Dispose();
        }
        catch (Exception e) when (e is SshException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection is gone anyway.
        }
    }

    private static bool IsConnectFailure(Exception e) =>
        e is SocketException or SshException or TimeoutException or IOException or ProxyException;

    private static bool IsConnectionFailure(Exception e) =>
        e is SshConnectionException or SocketException or ObjectDisposedException or IOException
            || (e is SshException && e is not SshOperationTimeoutException);

    private static string Describe(Exception e, bool legacy) => e switch
    {
        SocketException s => $"connection failed ({s.SocketErrorCode}): {s.Message}",
        SshOperationTimeoutException => $"no answer in time: {e.Message}",
        SshAuthenticationException => $"public key authentication failed: {e.Message}",
        SshConnectionException c when c.DisconnectReason == Renci.SshNet.Messages.Transport.DisconnectReason.KeyExchangeFailed =>
            $"no common algorithm{(legacy ? string.Empty : " (a FreeBSD 4.x host needs LegacySsh)")}: {e.Message}",
        _ => e.Message,
    };

    /// <summary>Maps an RFC 4254 exit-signal name to 128+n with the signal numbers common to FreeBSD and Linux; -1 otherwise.</summary>
    private static int SignalStatus(string? signal) => signal switch
    {
        "HUP" => 129,
        "INT" => 130,
        "QUIT" => 131,
        "ILL" => 132,
        "ABRT" => 134,
        "FPE" => 136,
        "KILL" => 137,
        "SEGV" => 139,
        "PIPE" => 141,
        "ALRM" => 142,
        "TERM" => 143,
        _ => -1,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to {Host}: kex {KeyExchange}, host key {HostKeyAlgorithm}, cipher {Cipher}, MAC {Mac}")]
    private static partial void LogConnected(ILogger logger, string host, string? keyExchange, string? hostKeyAlgorithm, string? cipher, string? mac);

    [LoggerMessage(Level = LogLevel.Information, Message = "Killed the process group {ProcessGroup} of a cancelled or timed-out command on {Host}")]
    private static partial void LogKilledSession(ILogger logger, string host, int processGroup);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not kill a cancelled command on {Host}: {Reason}")]
    private static partial void LogKillFailed(ILogger logger, string host, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconnecting to {Host}: {Reason}")]
    private static partial void LogReconnecting(ILogger logger, string host, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Host key of {Host} does not match: pinned {Expected}, presented {Actual}; connection refused")]
    private static partial void LogHostKeyMismatch(ILogger logger, string host, string expected, string actual);
}
