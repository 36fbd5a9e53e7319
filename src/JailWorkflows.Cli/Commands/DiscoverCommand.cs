using System.ComponentModel;
using System.Globalization;
using System.Text.RegularExpressions;
using JailWorkflows.FreeBsd;
using JailWorkflows.Hosts;
using JailWorkflows.Plans;
using JailWorkflows.Shell;
using Renci.SshNet.Common;
using Spectre.Console;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary>
/// <c>jailwf discover &lt;user@host[:port]&gt;</c>: reads a source server over SSH (release, UFS partitions and their
/// use, enabled services, IPv4 addresses) and writes a plan for it. The server's host key is read first without
/// trusting it and printed with its fingerprints: the operator must compare them with the server's own key out of
/// band before using the plan. The key is then pinned for the reading (and in the plan).
/// </summary>
internal sealed class DiscoverCommand : AsyncCommand<DiscoverCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<TARGET>")]
        [Description("The source server: [user@]host[:port] (user default root, port default 22).")]
        public string Target { get; init; } = string.Empty;

        [CommandOption("--legacy-ssh")]
        [Description("Allow the 2004-era SSH algorithms of FreeBSD 4.x (OpenSSH 3.x). Needed for such servers; never on by default.")]
        public bool LegacySsh { get; init; }

        [CommandOption("--key <FILE>")]
        [Description("Private key for the login (default: ~/.ssh/id_ed25519, id_ecdsa or id_rsa, the first that exists; with --legacy-ssh only id_rsa).")]
        public string? Key { get; init; }

        [CommandOption("--out <FILE>")]
        [Description("Write the plan here (default: standard output).")]
        public string? Out { get; init; }

        [CommandOption("--jail-ip <IP>")]
        [Description("The jail's IPv4 address (default: the server's own primary address).")]
        public string? JailIp { get; init; }

        [CommandOption("--jail-name <NAME>")]
        [Description("The jail's name (default: the short host name in lower case).")]
        public string? JailName { get; init; }

        [CommandOption("--host-key <KEY>")]
        [Description("Require this host key, \"<type> <base64>\" as in known_hosts; another key fails (exit 3).")]
        public string? HostKey { get; init; }

        public override ValidationResult Validate()
        {
            if (!DiscoveryTarget.TryParse(Target, out _, out var problem))
            {
                return ValidationResult.Error(problem);
            }

            if (JailIp is not null && !NetworkNames.IsIPv4(JailIp))
            {
                return ValidationResult.Error($"--jail-ip: '{JailIp}' is not an IPv4 address.");
            }

            if (JailName is not null)
            {
                try
                {
                    _ = JailRoot.Create("/data/jails", JailName);
                }
                catch (ArgumentException e)
                {
                    return ValidationResult.Error("--jail-name: " + e.Message);
                }
            }

            if (HostKey is not null && !KnownHosts.TryNormalizeHostKey(HostKey, out _, out var keyProblem))
            {
                return ValidationResult.Error("--host-key: " + keyProblem + ".");
            }

            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        DiscoveryTarget.TryParse(settings.Target, out var target, out _);
        var keyFile = ResolveKeyFile(settings.Key, settings.LegacySsh);

        // Progress and the fingerprints go to standard error when the plan goes to standard output.
        var info = settings.Out is null ? Consoles.Error : AnsiConsole.Console;
        var name = target!.ToString();

        var (scan, legacy) = await ScanAsync(target, cancellationToken).ConfigureAwait(false);
        if (legacy && !settings.LegacySsh)
        {
            Consoles.Error.MarkupLine(
                $"[red]Legacy SSH server:[/] {Markup.Escape(name)} ('{Markup.Escape(scan.ServerVersion)}') speaks only the 2004-era algorithms of "
                + "FreeBSD 4.x (OpenSSH 3.x: diffie-hellman-group1/group-exchange-sha1, ssh-rsa, CBC ciphers, hmac-sha1). "
                + "Run again with [bold]--legacy-ssh[/] to allow them for this server; the plan then says legacySsh: true.");
            return ExitCodes.HostProblem;
        }

        if (settings.LegacySsh && !legacy)
        {
            info.MarkupLine($"[grey]{Markup.Escape(name)} negotiates modern SSH algorithms: --legacy-ssh is not needed, the plan says legacySsh: false.[/]");
        }

        var pinned = scan.HostKey;
        if (settings.HostKey is not null)
        {
            KnownHosts.TryNormalizeHostKey(settings.HostKey, out var given, out _);
            if (given.Split(' ')[0] == scan.HostKey.Split(' ')[0] && given != scan.HostKey)
            {
                throw new HostKeyMismatchException(name, SshHost.Fingerprint(given), scan.Fingerprint);
            }

            // Another type than the scanned one: SshHost asks the server for exactly this type and checks it.
            pinned = given;
        }

        info.MarkupLine($"{Markup.Escape(name)} ('{Markup.Escape(scan.ServerVersion)}') presents host key {Markup.Escape(pinned.Split(' ')[0])}:");
        info.MarkupLine($"  [bold]{Markup.Escape(SshHost.Fingerprint(pinned))}[/]   {Markup.Escape(ServerDiscovery.Md5Fingerprint(pinned))}");
        if (settings.HostKey is null)
        {
            info.MarkupLine($"  [yellow]NOT verified:[/] compare it on the server's console with 'ssh-keygen -l -f {Markup.Escape(ServerDiscovery.HostKeyPath(pinned))}' "
                + "(FreeBSD 4.x prints the MD5 form) before using the plan; pass --host-key to require a known key.");
        }
        else
        {
            info.MarkupLine("  the key given with --host-key.");
        }

        var endpoint = new SshEndpoint
        {
            Address = target.Address,
            Port = target.Port,
            User = target.User,
            KeyFile = keyFile,
            HostKey = pinned,
            LegacySsh = legacy,
        };
        var inventory = await ReadAsync(endpoint, scan.ServerVersion, cancellationToken).ConfigureAwait(false);
        var yaml = ServerDiscovery.ToPlanYaml(inventory, settings.JailName, settings.JailIp);
        var plan = PlanLoader.Parse(yaml, settings.Out ?? "(discovered plan)");
        var server = plan.Servers[0];

        if (settings.Out is null)
        {
            await Console.Out.WriteAsync(yaml.AsMemory(), cancellationToken).ConfigureAwait(false);
            await Console.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var path = Path.GetFullPath(settings.Out);
            await File.WriteAllTextAsync(path, yaml, cancellationToken).ConfigureAwait(false);
            info.MarkupLine($"plan written to [bold]{Markup.Escape(path)}[/]");
        }

        info.MarkupLine(
            $"{Markup.Escape(server.Name)}: FreeBSD {Markup.Escape(server.Release ?? "?")}, partitions {Markup.Escape(string.Join(' ', server.Partitions.Select(p => p.MountPoint)))}, "
            + $"jail {Markup.Escape(server.Jail.Name)} ({Markup.Escape(server.Jail.Hostname)}, {Markup.Escape(server.Jail.Ip)}), legacySsh {(legacy ? "true" : "false")}. "
            + "Fill in the jail host and check the comments in the plan.");
        return 0;
    }

    /// <summary>
    /// Reads the presented host key with modern algorithms; when the algorithm negotiation fails, again with the
    /// 2004-era set added. Legacy is needed when only the second works, or when the server is an OpenSSH before 4.0.
    /// </summary>
    private static async Task<(SshHostScan Scan, bool Legacy)> ScanAsync(DiscoveryTarget target, CancellationToken cancellationToken)
    {
        try
        {
            var modern = await SshHost.ScanAsync(target.Address, target.Port, legacy: false, cancellationToken).ConfigureAwait(false);
            return (modern, ServerDiscovery.IsLegacyOpenSsh(modern.ServerVersion));
        }
        catch (HostUnreachableException e) when (e.InnerException is SshException and not SshOperationTimeoutException and not SshAuthenticationException)
        {
            // The server answered but no modern algorithm was agreed on: does it speak the 2004-era set?
            var old = await TryScanLegacyAsync(target, cancellationToken).ConfigureAwait(false);
            if (old is null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
            }

            return (old, true);
        }
    }

    private static async Task<SshHostScan?> TryScanLegacyAsync(DiscoveryTarget target, CancellationToken cancellationToken)
    {
        try
        {
            return await SshHost.ScanAsync(target.Address, target.Port, legacy: true, cancellationToken).ConfigureAwait(false);
        }
        catch (HostUnreachableException)
        {
            return null;
        }
    }

    private static async Task<ServerInventory> ReadAsync(SshEndpoint endpoint, string serverVersion, CancellationToken cancellationToken)
    {
        await using var host = new SshHost(endpoint);
        var release = FreeBsdRelease.Parse(await host.RunCheckedAsync(ShellCommand.Of("uname", "-r"), cancellationToken).ConfigureAwait(false));
        var hostname = (await host.RunCheckedAsync(ShellCommand.Of("uname", "-n"), cancellationToken).ConfigureAwait(false)).Trim();
        var mounts = MountP.Parse(await host.RunCheckedAsync(MountP.Command(), cancellationToken).ConfigureAwait(false));
        var ufs = MountP.UfsPartitions(mounts);
        var usage = ufs.Count == 0
            ? []
            : Df.Parse(await host.RunCheckedAsync(Df.Command(ufs.Select(p => p.MountPoint)), cancellationToken).ConfigureAwait(false));
        var interfaces = Ifconfig.Parse(await host.RunCheckedAsync(Ifconfig.Command(), cancellationToken).ConfigureAwait(false));
        var rcConf = await host.RunAsync(ShellCommand.Of("cat", "/etc/rc.conf"), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!rcConf.Succeeded)
        {
            Consoles.Error.MarkupLine($"[yellow]/etc/rc.conf could not be read[/] (exit {rcConf.ExitStatus.ToString(CultureInfo.InvariantCulture)}: {Markup.Escape(rcConf.StdErr.Trim())}); the plan says so.");
        }

        return new ServerInventory
        {
            Ssh = endpoint,
            ServerVersion = serverVersion,
            Release = release,
            Hostname = hostname,
            Mounts = mounts,
            DiskUsage = usage,
            Interfaces = interfaces,
            RcConf = rcConf.Succeeded ? rcConf.StdOut : null,
            DiscoveredAt = TimeProvider.System.GetUtcNow(),
        };
    }

    private static string ResolveKeyFile(string? key, bool legacy)
    {
        if (key is not null)
        {
            var path = Path.GetFullPath(key);
            return File.Exists(path) ? path : throw new FileNotFoundException($"The key file '{path}' does not exist (--key).", path);
        }

        var ssh = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh");
        string[] candidates = legacy ? ["id_rsa"] : ["id_ed25519", "id_ecdsa", "id_rsa"];
        return candidates.Select(c => Path.Combine(ssh, c)).FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"No private key given (--key) and none of {string.Join(", ", candidates.Select(c => Path.Combine(ssh, c)))} exists.");
    }
}

/// <summary>The <c>[user@]host[:port]</c> argument of <c>jailwf discover</c>.</summary>
internal sealed partial record DiscoveryTarget(string User, string Address, int Port)
{
    public static bool TryParse(string? text, out DiscoveryTarget? target, out string problem)
    {
        target = null;
        var m = Pattern().Match(text ?? string.Empty);
        if (!m.Success)
        {
            problem = $"'{text}' is not [user@]host[:port].";
            return false;
        }

        var address = m.Groups["host"].Value;
        if (!NetworkNames.IsIPv4(address) && !NetworkNames.IsHostName(address))
        {
            problem = $"'{address}' is neither an IPv4 address nor a host name.";
            return false;
        }

        var port = 22;
        if (m.Groups["port"].Success && (!int.TryParse(m.Groups["port"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            problem = $"'{m.Groups["port"].Value}' is not a TCP port (1 to 65535).";
            return false;
        }

        target = new DiscoveryTarget(m.Groups["user"].Success ? m.Groups["user"].Value : "root", address, port);
        problem = string.Empty;
        return true;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{User}@{Address}:{Port}");

    [GeneratedRegex(@"^(?:(?<user>[A-Za-z_][A-Za-z0-9_.-]{0,31})@)?(?<host>[^@:\s]+)(?::(?<port>[0-9]{1,5}))?$")]
    private static partial Regex Pattern();
}
