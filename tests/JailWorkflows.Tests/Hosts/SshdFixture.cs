using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using JailWorkflows.Plans;

namespace JailWorkflows.Tests.Hosts;

[CollectionDefinition(Name)]
public sealed class SshdCollection : ICollectionFixture<SshdFixture>
{
    public const string Name = "Hosts: real sshd on 127.0.77.x";
}

/// <summary>
/// Two real OpenSSH sshd (as root): a modern one on 127.0.77.1:22 (ed25519 host key) and a legacy one on
/// 127.0.77.2:22 restricted to the 2004-era algorithms of FreeBSD 4.x (RSA host key). Both have PATH set
/// (SetEnv) to a directory with the daemon(8) shim first, as the lab's jail host does.
/// Nothing listens on 127.0.77.3:22 (the unreachable address).
/// </summary>
public sealed class SshdFixture : IAsyncLifetime
{
    public const string ModernAddress = "127.0.77.1";
    public const string LegacyAddress = "127.0.77.2";
    public const string UnreachableAddress = "127.0.77.3";

    private readonly List<Process> _sshds = [];
    private readonly StringBuilder _log = new();

    public string Dir { get; private set; } = string.Empty;

    public string ShimPath { get; private set; } = string.Empty;

    public string ModernHostKey { get; private set; } = string.Empty;

    public string LegacyHostKey { get; private set; } = string.Empty;

    /// <summary>An ed25519 public key no server has: pinning it must fail.</summary>
    public string WrongHostKey { get; private set; } = string.Empty;

    public string Ed25519UserKey => Path.Combine(Dir, "user_ed25519");

    public string RsaUserKey => Path.Combine(Dir, "user_rsa");

    public SshEndpoint Modern => new()
    {
        Address = ModernAddress,
        KeyFile = Ed25519UserKey,
        HostKey = ModernHostKey,
    };

    public SshEndpoint Legacy => new()
    {
        Address = LegacyAddress,
        KeyFile = RsaUserKey,
        HostKey = LegacyHostKey,
        LegacySsh = true,
    };

    public async Task InitializeAsync()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return;
        }

        Dir = Directory.CreateTempSubdirectory("jailwf-hosts-sshd-").FullName;
        Directory.CreateDirectory("/run/sshd");
        ShimPath = DaemonShim.Install(Path.Combine(Dir, "shims"));

        KeyGen("ed25519", "host_ed25519");
        KeyGen("rsa", "host_rsa");
        KeyGen("ed25519", "wrong_ed25519");
        KeyGen("ed25519", "user_ed25519");
        KeyGen("rsa", "user_rsa");
        ModernHostKey = PublicKey("host_ed25519");
        LegacyHostKey = PublicKey("host_rsa");
        WrongHostKey = PublicKey("wrong_ed25519");
        File.WriteAllText(
            Path.Combine(Dir, "authorized_keys"),
            File.ReadAllText(Path.Combine(Dir, "user_ed25519.pub")) + File.ReadAllText(Path.Combine(Dir, "user_rsa.pub")));

        await StartAsync("modern", ModernAddress, "host_ed25519", string.Empty);

        // OpenSSH 9.2 accepts all of these (3des-cbc, hmac-md5 and group1-sha1 are compiled in, only off by default).
        await StartAsync("legacy", LegacyAddress, "host_rsa", """
            KexAlgorithms diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1
            HostKeyAlgorithms ssh-rsa
            Ciphers aes128-ctr,aes128-cbc,3des-cbc
            MACs hmac-sha1,hmac-md5
            PubkeyAcceptedAlgorithms ssh-rsa
            """);
    }

    public Task DisposeAsync()
    {
        foreach (var sshd in _sshds)
        {
            try
            {
                sshd.Kill();
                sshd.WaitForExit();
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            sshd.Dispose();
        }

        if (Dir.Length > 0)
        {
            try
            {
                Directory.Delete(Dir, recursive: true);
            }
            catch (IOException)
            {
                // A job may still be writing; the temp dir is left behind.
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The pids of the per-connection sshd processes (children of the listening sshd at <paramref name="address"/>).</summary>
    public IReadOnlyList<int> ConnectionProcesses(string address) =>
        Procs.Children(_sshds[address == ModernAddress ? 0 : 1].Id);

    private async Task StartAsync(string name, string address, string hostKey, string extra)
    {
        if (await AcceptsAsync(address))
        {
            throw new InvalidOperationException($"Something already listens on {address}:22 (a stale sshd from an earlier run?); stop it first.");
        }

        var config = Path.Combine(Dir, $"sshd_{name}.conf");
        File.WriteAllText(config, $"""
            ListenAddress {address}:22
            HostKey {Path.Combine(Dir, hostKey)}
            AuthorizedKeysFile {Path.Combine(Dir, "authorized_keys")}
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PidFile {Path.Combine(Dir, $"sshd_{name}.pid")}
            SetEnv PATH={ShimPath}
            {extra}
            """.ReplaceLineEndings("\n") + "\n");
        Run.Checked("/usr/sbin/sshd", "-t", "-f", config);

        var info = new ProcessStartInfo("/usr/sbin/sshd") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-D", "-e", "-f", config })
        {
            info.ArgumentList.Add(a);
        }

        var sshd = Process.Start(info)!;
        sshd.ErrorDataReceived += (_, e) =>
        {
            lock (_log)
            {
                _log.AppendLine(name + ": " + e.Data);
            }
        };
        sshd.BeginErrorReadLine();
        sshd.BeginOutputReadLine();
        _sshds.Add(sshd);

        var deadline = Stopwatch.StartNew();
        while (!await AcceptsAsync(address))
        {
            if (sshd.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(15))
            {
                string log;
                lock (_log)
                {
                    log = _log.ToString();
                }

                throw new InvalidOperationException($"sshd {name} on {address}:22 did not come up: {log}");
            }

            await Task.Delay(20);
        }
    }

    private static async Task<bool> AcceptsAsync(string address)
    {
        using var client = new TcpClient();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(address, 22, cts.Token);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void KeyGen(string type, string file)
    {
        var args = new List<string> { "-q", "-t", type, "-N", string.Empty, "-C", "jailwf-test-" + file, "-f", Path.Combine(Dir, file) };
        if (type == "rsa")
        {
            args.InsertRange(3, ["-b", "2048"]);
        }

        Run.Checked("ssh-keygen", [.. args]);
    }

    private string PublicKey(string file)
    {
        var parts = File.ReadAllText(Path.Combine(Dir, file + ".pub")).Split(' ');
        return parts[0] + " " + parts[1];
    }

    /// <summary>The SHA256 fingerprint of a key file as ssh-keygen -lf prints it.</summary>
    public string KeygenFingerprint(string file) =>
        Run.Checked("ssh-keygen", "-lf", Path.Combine(Dir, file + ".pub")).Split(' ')[1];
}
