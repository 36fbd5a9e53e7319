using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using JailWorkflows.Hosts;
using JailWorkflows.Plans;
using JailWorkflows.Shell;
using Microsoft.Extensions.Logging.Testing;
using Renci.SshNet;

namespace JailWorkflows.Bench.Figures;

/// <summary>
/// Issue 7, figure 5 (SSH control channel): SSH.NET command round trips per second and stream throughput per cipher,
/// against the OpenSSH client on the same machine, the same sshd and the same cipher, interleaved in one run.
/// </summary>
/// <remarks>
/// Needs no lab: it starts its own sshd(8) per cipher on 127.0.40.1 (ports 2401..) with keys made in the run's
/// directory, each offering exactly one cipher and one MAC so both clients negotiate the same; both clients pin the
/// host key. sshd and the OpenSSH masters are stopped by pid at the end, also on failure.
/// </remarks>
internal sealed class SshFigure : Figure
{
    private const string Address = "127.0.40.1";
    private const int FirstPort = 2401;

    /// <summary>The MAC of the non-AEAD ciphers: SshHost's first choice (OpenSSH's own first choice would be umac-64-etm).</summary>
    private const string Mac = "hmac-sha2-256-etm@openssh.com";

    /// <summary>The cipher of the round trips and of the product-path row: SshHost's first choice.</summary>
    private const string RoundTripCipher = "aes256-gcm@openssh.com";

    private static readonly string[] Ciphers =
    [
        "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr", "chacha20-poly1305@openssh.com",
    ];

    /// <inheritdoc />
    public override string Name => "ssh";

    /// <inheritdoc />
    public override string Title => "SSH control channel";

    /// <inheritdoc />
    public override async Task<FigureReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var quick = context.Quick;
        var repetitions = quick ? 3 : 7;
        var batchTime = TimeSpan.FromSeconds(quick ? 0.5 : 2);
        var streamBytes = (quick ? 32L : 256L) * 1024 * 1024;
        var streamRepetitions = quick ? 2 : 5;
        var productBytes = (quick ? 8L : 32L) * 1024 * 1024;

        var directory = Path.Combine(context.WorkDirectory, "ssh");
        Directory.CreateDirectory(directory);
        var keys = await SshBenchKeys.CreateAsync(directory, cancellationToken).ConfigureAwait(false);

        var sshNetVersion = typeof(SshClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
            ?? typeof(SshClient).Assembly.GetName().Version?.ToString() ?? "?";
        var openSshVersion = (await Processes.RunAsync("ssh", ["-V"], cancellationToken).ConfigureAwait(false)).StdErr.Trim();
        var openSshCiphers = (await Processes.RunCheckedAsync("ssh", ["-Q", "cipher"], cancellationToken).ConfigureAwait(false)).StdOut
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var sshNetAll = new ConnectionInfo(Address, "root", new NoneAuthenticationMethod("root")).Encryptions.Keys.ToHashSet(StringComparer.Ordinal);
        var sshHostOffered = SshHostCiphers();

        var measurements = new List<Measurement>();
        var notes = new List<string>();
        var servers = new Dictionary<string, SshLoopbackServer>(StringComparer.Ordinal);
        var clients = new List<IDisposable>();
        SshHost? host = null;
        try
        {
            var port = FirstPort;
            foreach (var cipher in Ciphers)
            {
                var missing = Missing(cipher, sshNetAll, sshHostOffered, openSshCiphers, sshNetVersion);
                if (missing is not null)
                {
                    measurements.Add(new Measurement($"stream throughput, {cipher}", "n/a", missing));
                    port++;
                    continue;
                }

                context.Progress($"sshd on {Address}:{port} offering {cipher} only, and an OpenSSH master to it");
                servers[cipher] = await SshLoopbackServer.StartAsync(keys, Address, port++, cipher, Mac, cancellationToken).ConfigureAwait(false);
            }

            // Round trips, on the cipher SshHost prefers.
            if (servers.TryGetValue(RoundTripCipher, out var rtServer))
            {
                var log = new FakeLogger<SshHost>();
                host = new SshHost(
                    new SshEndpoint { Address = Address, Port = rtServer.Port, User = "root", KeyFile = keys.ClientKeyFile, HostKey = keys.HostPublicKey },
                    logger: log);
                await host.ConnectAndVerifyAsync(cancellationToken).ConfigureAwait(false);
                if (!log.Collector.GetSnapshot().Any(r => r.Message.Contains($"cipher {RoundTripCipher}", StringComparison.Ordinal)))
                {
                    throw new InvalidOperationException($"SshHost did not report {RoundTripCipher}: {string.Join(" / ", log.Collector.GetSnapshot().Select(r => r.Message))}");
                }

                var bare = await ConnectPinnedAsync(rtServer, keys, cancellationToken).ConfigureAwait(false);
                clients.Add(bare);

                // The OpenSSH side of the product-path round trip runs the very command text SshHost sends.
                var wrapped = SshHost.WireText(ShellCommand.Of("true"), withInput: false);
                var trueCommand = ShellCommand.Of("true");
                var sides = new (string Name, Func<Task> RoundTrip)[]
                {
                    ("SshHost.RunAsync", async () => EnsureOk(await host.RunAsync(trueCommand, null, cancellationToken).ConfigureAwait(false))),
                    ("OpenSSH, SshHost's command", () => OpenSshRoundTripAsync(rtServer, wrapped, cancellationToken)),
                    ("SSH.NET SshCommand", () => SshNetRoundTripAsync(bare, trueCommand.Text, cancellationToken)),
                    ("OpenSSH, bare", () => OpenSshRoundTripAsync(rtServer, trueCommand.Text, cancellationToken)),
                };
                context.Progress($"round trips: {repetitions} interleaved batches of {batchTime.TotalSeconds:0.#} s per side ({sides.Length} sides)");
                var rates = await MeasureRoundTripsAsync(sides, repetitions, batchTime, cancellationToken).ConfigureAwait(false);

                measurements.Add(RoundTripRow("command round trips, SshHost.RunAsync(true)", rates[0], rates[1], "OpenSSH mux client running SshHost's command"));
                measurements.Add(RoundTripRow("command round trips, bare SSH.NET SshCommand (true)", rates[2], rates[3], "OpenSSH mux client running `true`"));
                var (product, bareRate) = (Percentiles.Of(rates[0], 50), Percentiles.Of(rates[2], 50));
                notes.Add($"SshHost.RunAsync takes {1000 / product - 1000 / bareRate:0.00} ms more per command than a bare SSH.NET SshCommand ({product / bareRate:0.00} of its rate): its wrapper runs `/bin/sh -c` twice on the server (first to report the session's pid, so that a cancelled or timed-out command's process group can be killed; csh login shells need the outer sh) and it reads the output on its own thread. The OpenSSH mux client pays a process start per command instead.");
            }
            else
            {
                measurements.Add(new Measurement("command round trips", "n/a", $"{RoundTripCipher} is not offered by both sides"));
            }

            // Stream throughput per cipher.
            var ratios = new Dictionary<string, double>(StringComparer.Ordinal);
            var streamCommand = ShellCommand.Of("head", "-c", streamBytes.ToString(CultureInfo.InvariantCulture), "/dev/zero").Text;
            foreach (var (cipher, server) in servers)
            {
                var client = await ConnectPinnedAsync(server, keys, cancellationToken).ConfigureAwait(false);
                clients.Add(client);
                if (client.ConnectionInfo.CurrentServerEncryption != cipher)
                {
                    throw new InvalidOperationException($"SSH.NET negotiated {client.ConnectionInfo.CurrentServerEncryption}, not {cipher}");
                }

                context.Progress($"stream {streamBytes / 1024 / 1024} MiB server -> client, {cipher}: {streamRepetitions} interleaved repetitions per side");
                var warmup = ShellCommand.Of("head", "-c", (4 * 1024 * 1024).ToString(CultureInfo.InvariantCulture), "/dev/zero").Text;
                _ = await SshNetStreamAsync(client, warmup, 4 * 1024 * 1024, cancellationToken).ConfigureAwait(false);
                _ = await OpenSshStreamAsync(server, warmup, 4 * 1024 * 1024, cancellationToken).ConfigureAwait(false);
                var ours = new List<double>();
                var theirs = new List<double>();
                for (var r = 0; r < streamRepetitions; r++)
                {
                    if (r % 2 == 0)
                    {
                        ours.Add(await SshNetStreamAsync(client, streamCommand, streamBytes, cancellationToken).ConfigureAwait(false));
                        theirs.Add(await OpenSshStreamAsync(server, streamCommand, streamBytes, cancellationToken).ConfigureAwait(false));
                    }
                    else
                    {
                        theirs.Add(await OpenSshStreamAsync(server, streamCommand, streamBytes, cancellationToken).ConfigureAwait(false));
                        ours.Add(await SshNetStreamAsync(client, streamCommand, streamBytes, cancellationToken).ConfigureAwait(false));
                    }
                }

                var (o, t) = (Percentiles.Of(ours, 50), Percentiles.Of(theirs, 50));
                ratios[cipher] = o / t;
                var mac = cipher.Contains("-ctr", StringComparison.Ordinal) ? $" + {Mac}" : string.Empty;
                measurements.Add(new Measurement(
                    $"stream throughput, {cipher}{mac}",
                    $"{MiBps(o)} (SSH.NET)",
                    $"OpenSSH {MiBps(t)}; ratio {o / t:0.00}"));
            }

            // The product's own path for command output: SshHost.RunAsync buffers stdout and decodes it as UTF-8.
            if (host is not null && servers.TryGetValue(RoundTripCipher, out var productServer))
            {
                var command = ShellCommand.Of("head", "-c", productBytes.ToString(CultureInfo.InvariantCulture), "/dev/zero");
                context.Progress($"SshHost.RunAsync output of {productBytes / 1024 / 1024} MiB: {streamRepetitions} interleaved repetitions per side");
                var ours = new List<double>();
                var theirs = new List<double>();
                for (var r = 0; r < streamRepetitions; r++)
                {
                    var watch = Stopwatch.StartNew();
                    var result = await host.RunAsync(command, null, cancellationToken).ConfigureAwait(false);
                    watch.Stop();
                    EnsureOk(result);
                    if (result.StdOut.Length != productBytes)
                    {
                        throw new InvalidOperationException($"SshHost.RunAsync returned {result.StdOut.Length} characters, not {productBytes}");
                    }

                    ours.Add(productBytes / watch.Elapsed.TotalSeconds);
                    theirs.Add(await OpenSshStreamAsync(productServer, command.Text, productBytes, cancellationToken).ConfigureAwait(false));
                }

                var (o, t) = (Percentiles.Of(ours, 50), Percentiles.Of(theirs, 50));
                const double pollBytes = 3 * 256 * 1024;
                notes.Add($"SshHost.RunAsync returns command output at {o / t:0.00} of OpenSSH's stream to /dev/null: it collects standard output in a MemoryStream read in 16 KiB blocks on its own thread, copies it twice (ToArray, then without the pid line) and decodes it into a string, so it is meant for small outputs. The largest it is given in the product is one host job poll (HostJobs.PollAsync: at most 256 KiB of job output sent as hex, about 768 KiB), which at this rate takes {pollBytes / o * 1000:0} ms.");
                measurements.Add(new Measurement(
                    $"command output through SshHost.RunAsync ({productBytes / 1024 / 1024} MiB, buffered as text), {RoundTripCipher}",
                    MiBps(o),
                    $"OpenSSH to /dev/null {MiBps(t)}; ratio {o / t:0.00}"));
            }

            notes.AddRange(LimitNotes(ratios));
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Dispose();
            }

            if (host is not null)
            {
                await host.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var s in servers.Values)
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }
        }

        var method = $"""
            Both clients run on this machine against the same sshd ({openSshVersion}), started by the figure on {Address}
            with an ed25519 host key and client key made in the run's directory; both pin the host key (SshHost by its
            pinned `SshEndpoint.HostKey`, OpenSSH by a one-line known_hosts with `StrictHostKeyChecking=yes`). There is one
            sshd per cipher and it offers only that cipher (and, for aes-ctr, only `{Mac}`, SshHost's first MAC; OpenSSH
            would otherwise pick umac-64-etm), so both sides negotiate the same; the SSH.NET side checks the negotiated
            cipher. sshd sets HOME to an empty directory for the sessions (`SetEnv`), so the login shell reads no rc
            file: on a developer machine root's ~/.bashrc can cost more per command than everything measured here. SSH.NET is assembly version {sshNetVersion} (Directory.Packages.props names the package), connected with SshHost's own algorithm setup (`SshHost.ConfigureAlgorithms`) and
            host key check. **Round trips** ({RoundTripCipher}, SshHost's first choice) are timed over an already
            established connection on both sides: SshHost.RunAsync (its real path: a channel per command, the pid wrapper, output buffered)
            and a bare SSH.NET `SshCommand`, against an OpenSSH ControlMaster with one `ssh -S <socket> host <command>` per
            round trip. The mux client was chosen over one long-lived session reading commands because it does what
            SshHost does per command (a new session channel and exec request on the one connection, exit status
            returned); it also pays a process start per command, which is how a script would use OpenSSH. The
            OpenSSH side runs the same command text as ours (SshHost's wrapper around `true`, or bare `true`). Each
            side ran {repetitions} batches of sequential round trips ({batchTime.TotalSeconds:0.#} s each, at least 5 round trips), sides
            interleaved batch by batch in rotating order, after 5 warm-up round trips each; the value is the median batch rate. BenchmarkDotNet was not used: the work is in other
            processes and must interleave with the OpenSSH side. **Throughput**: `head -c {streamBytes / 1024 / 1024}M /dev/zero`
            streamed from the server to the client and discarded (SSH.NET: `SshCommand.OutputStream` read in 64 KiB
            blocks; OpenSSH: the mux client's standard output on /dev/null, written by the master), {streamRepetitions}
            repetitions per side per cipher alternating which side goes first, after a 4 MiB warm-up; the value is the
            median. MiB/s is 2^20 bytes per second.
            """;
        return new FigureReport(measurements, method.ReplaceLineEndings(" "), notes);
    }

    private static Measurement RoundTripRow(string what, List<double> ours, List<double> theirs, string comparison)
    {
        var (o, t) = (Percentiles.Of(ours, 50), Percentiles.Of(theirs, 50));
        return new Measurement(
            what,
            $"{o:0} /s ({1000 / o:0.00} ms each)",
            $"{comparison}: {t:0} /s ({1000 / t:0.00} ms each); ratio {o / t:0.00}");
    }

    /// <summary>Runs each side in batches of at least <paramref name="batchTime"/> (and 5 round trips), sides rotating; returns each side's batch rates (round trips/s).</summary>
    private static async Task<List<double>[]> MeasureRoundTripsAsync((string Name, Func<Task> RoundTrip)[] sides, int repetitions, TimeSpan batchTime, CancellationToken cancellationToken)
    {
        var rates = sides.Select(_ => new List<double>()).ToArray();
        foreach (var side in sides)
        {
            // Warm-up: JIT, connection buffers, the server's page cache for sh.
            for (var i = 0; i < 5; i++)
            {
                await side.RoundTrip().ConfigureAwait(false);
            }
        }

        for (var r = 0; r < repetitions; r++)
        {
            for (var k = 0; k < sides.Length; k++)
            {
                var s = (k + r) % sides.Length;
                var watch = Stopwatch.StartNew();
                var count = 0;
                while (count < 5 || watch.Elapsed < batchTime)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await sides[s].RoundTrip().ConfigureAwait(false);
                    count++;
                }

                watch.Stop();
                rates[s].Add(count / watch.Elapsed.TotalSeconds);
            }
        }

        return rates;
    }

    private static async Task SshNetRoundTripAsync(SshClient client, string command, CancellationToken cancellationToken)
    {
        using var c = client.CreateCommand(command);
        await c.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        if (c.ExitStatus != 0)
        {
            throw new InvalidOperationException($"'{command}' over SSH.NET exited with {c.ExitStatus}: {c.Error}");
        }
    }

    private static async Task OpenSshRoundTripAsync(SshLoopbackServer server, string command, CancellationToken cancellationToken)
    {
        var result = await Processes.RunAsync("ssh", server.MuxClientArguments(command), cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{command}' over the OpenSSH master exited with {result.ExitCode}: {result.StdErr.Trim()}");
        }
    }

    /// <summary>Runs <paramref name="command"/> and reads its standard output to the end, discarding it; returns bytes/s.</summary>
    private static async Task<double> SshNetStreamAsync(SshClient client, string command, long expected, CancellationToken cancellationToken)
    {
        using var c = client.CreateCommand(command);
        var watch = Stopwatch.StartNew();
        var execution = c.ExecuteAsync(cancellationToken);
        var total = await Task.Factory.StartNew(
            () =>
            {
                var buffer = new byte[64 * 1024];
                long sum = 0;
                int read;
                while ((read = c.OutputStream.Read(buffer, 0, buffer.Length)) > 0)
                {
                    sum += read;
                }

                return sum;
            },
            cancellationToken,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default).ConfigureAwait(false);
        await execution.ConfigureAwait(false);
        watch.Stop();
        return total == expected && c.ExitStatus == 0
            ? expected / watch.Elapsed.TotalSeconds
            : throw new InvalidOperationException($"'{command}' over SSH.NET gave {total} bytes (exit {c.ExitStatus}), expected {expected}");
    }

    /// <summary>Runs <paramref name="command"/> through the OpenSSH master with standard output on /dev/null; returns bytes/s.</summary>
    private static async Task<double> OpenSshStreamAsync(SshLoopbackServer server, string command, long bytes, CancellationToken cancellationToken)
    {
        var client = ShellCommand.Of("ssh", server.MuxClientArguments(command)).RedirectTo("/dev/null");
        var watch = Stopwatch.StartNew();
        var result = await Processes.RunAsync("/bin/sh", ["-c", client.Text], cancellationToken).ConfigureAwait(false);
        watch.Stop();
        return result.ExitCode == 0
            ? bytes / watch.Elapsed.TotalSeconds
            : throw new InvalidOperationException($"'{command}' over the OpenSSH master exited with {result.ExitCode}: {result.StdErr.Trim()}");
    }

    /// <summary>An SSH.NET client set up as SshHost sets up its own (algorithms, pinned host key), connected.</summary>
    private static async Task<SshClient> ConnectPinnedAsync(SshLoopbackServer server, SshBenchKeys keys, CancellationToken cancellationToken)
    {
        var pinned = SshHostKey.Parse(keys.HostPublicKey);
        var keyFile = new PrivateKeyFile(keys.ClientKeyFile);
        var info = new ConnectionInfo(server.Address, server.Port, "root", new PrivateKeyAuthenticationMethod("root", keyFile));
        SshHost.ConfigureAlgorithms(info, legacy: false, pinned.Type);
        var client = new SshClient(info);
        client.HostKeyReceived += (_, e) => e.CanTrust = SshHostKey.FromBlob(e.HostKey).SameKey(pinned);
        try
        {
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>The ciphers SshHost offers (its modern set), in its order.</summary>
    private static HashSet<string> SshHostCiphers()
    {
        var info = new ConnectionInfo(Address, "root", new NoneAuthenticationMethod("root"));
        SshHost.ConfigureAlgorithms(info, legacy: false, "ssh-ed25519");
        return info.Encryptions.Keys.ToHashSet(StringComparer.Ordinal);
    }

    private static string? Missing(string cipher, HashSet<string> sshNet, HashSet<string> sshHost, HashSet<string> openSsh, string sshNetVersion)
    {
        var lacking = new List<string>();
        if (!sshNet.Contains(cipher))
        {
            lacking.Add($"SSH.NET (assembly {sshNetVersion}) does not implement it");
        }
        else if (!sshHost.Contains(cipher))
        {
            lacking.Add("SshHost does not offer it");
        }

        if (!openSsh.Contains(cipher))
        {
            lacking.Add("this OpenSSH does not offer it");
        }

        return lacking.Count == 0 ? null : string.Join("; ", lacking);
    }

    private static IEnumerable<string> LimitNotes(Dictionary<string, double> ratios)
    {
        foreach (var (cipher, ratio) in ratios.OrderBy(r => r.Value))
        {
            if (ratio >= 0.5)
            {
                continue;
            }

            var limit = cipher switch
            {
                _ when cipher.StartsWith("chacha20", StringComparison.Ordinal) =>
                    "SSH.NET's chacha20-poly1305 is BouncyCastle's managed ChaCha7539Engine and Poly1305 (both are in the 2026.0.0 assembly; its source has no native path for them), where OpenSSH uses its own C; this cipher is never SshHost's choice against a server that has aes-gcm",
                _ when cipher.EndsWith("-ctr", StringComparison.Ordinal) =>
                    "in SSH.NET's source (2024) aes-ctr builds a counter block array per packet, encrypts it with .NET's AES-ECB (native) and XORs it in managed code, allocating new arrays per packet, plus a separate HMAC-SHA-256 pass; OpenSSH does AES-CTR in one OpenSSL call",
                _ when cipher.Contains("-gcm", StringComparison.Ordinal) =>
                    "SSH.NET's aes-gcm is .NET's AesGcm (OpenSSL underneath), so the crypto itself is native; the gap is most likely SSH.NET's per-packet copying and allocation on its single receive thread, and the copy into the reader's buffer",
                _ => "see SSH.NET's cipher implementation",
            };
            yield return $"SSH.NET streams {cipher} at {ratio:0.00} of OpenSSH: {limit}.";
        }

        yield return "What of SSH.NET is on the product's hot path: only short commands (SshHost.RunAsync: a channel per command, host job polling, small files through WriteFileAsync/ReadFileAsync); the partition transfer (dump | ssh | restore) runs on the jail host between OpenSSH processes and never passes through SSH.NET or the engine. So the round-trip rate matters to the product, the stream throughput does not.";
    }

    private static void EnsureOk(CommandResult result)
    {
        if (result.ExitStatus != 0)
        {
            throw new InvalidOperationException($"SshHost.RunAsync exited with {result.ExitStatus}: {result.StdErr}");
        }
    }

    private static string MiBps(double bytesPerSecond) => $"{bytesPerSecond / 1024 / 1024:0} MiB/s";
}
