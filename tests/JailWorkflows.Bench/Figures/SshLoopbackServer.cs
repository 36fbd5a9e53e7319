using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using JailWorkflows.Shell;

namespace JailWorkflows.Bench.Figures;

/// <summary>
/// The keys of the ssh figure, made once per run in its directory: an ed25519 host key (pinned by both clients) and
/// an ed25519 client key (authorized for root).
/// </summary>
internal sealed record SshBenchKeys(string Directory, string HostKeyFile, string HostPublicKey, string ClientKeyFile, string AuthorizedKeysFile)
{
    /// <summary>Generates both keys with ssh-keygen(1).</summary>
    public static async Task<SshBenchKeys> CreateAsync(string directory, CancellationToken cancellationToken)
    {
        var hostKey = Path.Combine(directory, "ssh_host_ed25519_key");
        var clientKey = Path.Combine(directory, "id_ed25519");
        await Processes.RunCheckedAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", string.Empty, "-C", "jailwf-bench-host", "-f", hostKey], cancellationToken).ConfigureAwait(false);
        await Processes.RunCheckedAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", string.Empty, "-C", "jailwf-bench-client", "-f", clientKey], cancellationToken).ConfigureAwait(false);
        var hostPublic = string.Join(' ', File.ReadAllText(hostKey + ".pub").Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(2));
        var authorized = Path.Combine(directory, "authorized_keys");
        File.Copy(clientKey + ".pub", authorized, overwrite: true);
        return new SshBenchKeys(directory, hostKey, hostPublic, clientKey, authorized);
    }
}

/// <summary>
/// A private sshd(8) on a loopback address of this figure, offering exactly one cipher and one MAC, and an OpenSSH
/// ControlMaster connected to it. Both are stopped by their pids on dispose.
/// </summary>
internal sealed class SshLoopbackServer : IAsyncDisposable
{
    private const string Sshd = "/usr/sbin/sshd";
    private readonly StringBuilder _sshdErrors = new();
    private Process? _sshd;
    private Process? _master;

    private SshLoopbackServer(SshBenchKeys keys, string address, int port, string cipher, string mac)
    {
        Keys = keys;
        Address = address;
        Port = port;
        Cipher = cipher;
        Mac = mac;
        KnownHosts = Path.Combine(keys.Directory, "known_hosts");
        ControlSocket = Path.Combine(keys.Directory, $"master-{port}.sock");
    }

    /// <summary>The keys.</summary>
    public SshBenchKeys Keys { get; }

    /// <summary>The loopback address sshd listens on.</summary>
    public string Address { get; }

    /// <summary>The port.</summary>
    public int Port { get; }

    /// <summary>The only cipher sshd offers.</summary>
    public string Cipher { get; }

    /// <summary>The only MAC sshd offers (used by the non-AEAD ciphers).</summary>
    public string Mac { get; }

    /// <summary>The pinned known_hosts file of the OpenSSH client.</summary>
    public string KnownHosts { get; }

    /// <summary>The OpenSSH master's control socket.</summary>
    public string ControlSocket { get; }

    /// <summary>Starts sshd and the OpenSSH master; on failure everything started is stopped.</summary>
    public static async Task<SshLoopbackServer> StartAsync(SshBenchKeys keys, string address, int port, string cipher, string mac, CancellationToken cancellationToken)
    {
        var server = new SshLoopbackServer(keys, address, port, cipher, mac);
        try
        {
            await server.StartSshdAsync(cancellationToken).ConfigureAwait(false);
            await server.StartMasterAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The ssh(1) arguments of a client that runs <paramref name="remoteCommand"/> through the master. The port is
    /// 1 (closed): should the master be gone, ssh fails instead of silently opening a new connection.
    /// </summary>
    public IReadOnlyList<string> MuxClientArguments(string remoteCommand) =>
    [
        "-F", "none", "-S", ControlSocket, "-o", "ControlMaster=no", "-p", "1", "-n", "-T", "-o", "BatchMode=yes",
        "-o", "LogLevel=ERROR", "-l", "root", Address, remoteCommand,
    ];

    private IReadOnlyList<string> CommonArguments() =>
    [
        "-F", "none", "-i", Keys.ClientKeyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes", "-o", $"UserKnownHostsFile={KnownHosts}", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "HostKeyAlgorithms=ssh-ed25519", "-c", Cipher, "-m", Mac, "-o", "LogLevel=ERROR",
        "-p", Port.ToString(CultureInfo.InvariantCulture), "-l", "root",
    ];

    private async Task StartSshdAsync(CancellationToken cancellationToken)
    {
        var config = Path.Combine(Keys.Directory, $"sshd_config-{Port}");

        // An empty HOME for the sessions: the login shell (root's, bash here) then reads no rc file. Debian's bash
        // sources ~/.bashrc in sessions started by sshd, and a developer's .bashrc (pyenv init, say) can cost
        // hundreds of milliseconds per command, which would swamp what the figure compares: the clients.
        var home = Path.Combine(Keys.Directory, "home");
        Directory.CreateDirectory(home);
        File.WriteAllText(config, $"""
            ListenAddress {Address}:{Port}
            HostKey {Keys.HostKeyFile}
            PidFile {Path.Combine(Keys.Directory, $"sshd-{Port}.pid")}
            AuthorizedKeysFile {Keys.AuthorizedKeysFile}
            PermitRootLogin prohibit-password
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PrintMotd no
            PrintLastLog no
            UseDNS no
            LogLevel ERROR
            Ciphers {Cipher}
            MACs {Mac}
            SetEnv HOME={home}

            """);
        File.AppendAllLines(KnownHosts, [$"[{Address}]:{Port} {Keys.HostPublicKey}"]);
        Directory.CreateDirectory("/run/sshd");
        await Processes.RunCheckedAsync(Sshd, ["-t", "-f", config], cancellationToken).ConfigureAwait(false);

        var info = new ProcessStartInfo(Sshd) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-D", "-e", "-f", config })
        {
            info.ArgumentList.Add(a);
        }

        _sshd = Process.Start(info) ?? throw new InvalidOperationException("sshd did not start");
        _sshd.ErrorDataReceived += (_, e) =>
        {
            lock (_sshdErrors)
            {
                _sshdErrors.AppendLine(e.Data);
            }
        };
        _sshd.BeginErrorReadLine();
        _sshd.BeginOutputReadLine();

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_sshd.HasExited)
            {
                throw new InvalidOperationException($"sshd on {Address}:{Port} exited with {_sshd.ExitCode}: {SshdErrors()}");
            }

            using var probe = new TcpClient();
            try
            {
                await probe.ConnectAsync(Address, Port, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(15))
            {
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task StartMasterAsync(CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("ssh") { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in CommonArguments().Concat(["-M", "-N", "-T", "-S", ControlSocket, "-o", "ControlPersist=no", Address]))
        {
            info.ArgumentList.Add(a);
        }

        _master = Process.Start(info) ?? throw new InvalidOperationException("ssh did not start");
        _master.BeginErrorReadLine();
        _master.BeginOutputReadLine();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var check = await Processes.RunAsync("ssh", ["-F", "none", "-S", ControlSocket, "-O", "check", "-l", "root", Address], cancellationToken).ConfigureAwait(false);
            if (check.ExitCode == 0)
            {
                return;
            }

            if (_master.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(15))
            {
                throw new InvalidOperationException($"the OpenSSH master to {Address}:{Port} did not come up: {check.StdErr.Trim()}; sshd: {SshdErrors()}");
            }

            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    private string SshdErrors()
    {
        lock (_sshdErrors)
        {
            return _sshdErrors.ToString().Trim();
        }
    }

    /// <summary>Stops the master and sshd by their pids and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var p in new[] { _master, _sshd })
        {
            if (p is null)
            {
                continue;
            }

            try
            {
                if (!p.HasExited)
                {
                    p.Kill();
                }

                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await p.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
            {
                // Already gone, or did not end in time: nothing more to do by pid.
            }
            finally
            {
                p.Dispose();
            }
        }

        _master = null;
        _sshd = null;
    }
}

/// <summary>Runs local programs (argv, no shell) and collects their output.</summary>
internal static class Processes
{
    /// <summary>What a program did.</summary>
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    /// <summary>Runs <paramref name="program"/> with <paramref name="arguments"/>, standard input empty.</summary>
    public static async Task<Result> RunAsync(string program, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = p.StandardError.ReadToEndAsync(cancellationToken);
        await p.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return new Result(p.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>As <see cref="RunAsync"/>; throws when the exit status is not 0.</summary>
    public static async Task<Result> RunCheckedAsync(string program, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var list = arguments.ToList();
        var result = await RunAsync(program, list, cancellationToken).ConfigureAwait(false);
        return result.ExitCode == 0
            ? result
            : throw new InvalidOperationException($"'{ShellCommand.Of(program, list)}' exited with {result.ExitCode}: {result.StdErr.Trim()}");
    }
}
