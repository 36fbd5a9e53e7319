using System.Globalization;
using System.Text.RegularExpressions;
using JailWorkflows.Plans;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// The system OpenSSH client, ssh(1), as the jail host runs it for transfers (DESIGN.md D3): host key pinned
/// through a known_hosts file written by the engine, no password prompts, no pty.
/// </summary>
public static partial class OpenSsh
{
    /// <summary>
    /// Options that let a current OpenSSH client (checked against 9.2, <c>ssh -Q kex|cipher|key</c>) talk to the
    /// OpenSSH 3.x of FreeBSD 4.x: SHA-1 Diffie-Hellman key exchange, <c>ssh-rsa</c> (SHA-1) host keys and user key
    /// signatures, CBC ciphers. <c>aes128-ctr</c> and <c>hmac-sha1</c> are in the client's defaults already. Only
    /// used for a server whose plan entry sets <c>legacySsh</c>.
    /// </summary>
    public static IReadOnlyList<string> LegacyOptions { get; } =
    [
        "-o", "KexAlgorithms=+diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1",
        "-o", "HostKeyAlgorithms=+ssh-rsa",
        "-o", "PubkeyAcceptedAlgorithms=+ssh-rsa",
        "-o", "Ciphers=+aes128-cbc,3des-cbc",
    ];

    /// <summary>
    /// The ssh(1) argument vector that runs <paramref name="remote"/> on <paramref name="endpoint"/>:
    /// <c>ssh -F /dev/null -i &lt;key&gt; -o BatchMode=yes -o StrictHostKeyChecking=yes
    /// -o UserKnownHostsFile=&lt;kh&gt; -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes
    /// -o ConnectTimeout=30 -o ServerAliveInterval=60 -o ServerAliveCountMax=5 -p &lt;port&gt; [legacy options]
    /// -T &lt;user&gt;@&lt;address&gt; &lt;remote command text&gt;</c>.
    /// <c>-F /dev/null</c> keeps the host's ssh_config out; <c>-T</c> never allocates a pty (a pty turns LF into
    /// CRLF in the data stream); the server-alive probes end a transfer whose connection died instead of hanging.
    /// The remote command is one argument holding <see cref="ShellCommand.Text"/>: the remote shell unquotes it once.
    /// </summary>
    /// <param name="endpoint">The host reached (address, port, user, legacy flag; its <c>KeyFile</c> is not used).</param>
    /// <param name="keyFile">Absolute path of the private key on the machine that runs ssh.</param>
    /// <param name="knownHostsFile">Absolute path of a known_hosts file holding the pinned key (<see cref="KnownHosts.Line"/>).</param>
    /// <param name="remote">The command run on the remote host.</param>
    /// <returns>The argument vector, <c>ssh</c> first.</returns>
    /// <exception cref="ArgumentException">A value is unsafe: address not an IPv4 address or host name, user not a
    /// user name, port out of range, a path not absolute.</exception>
    public static IReadOnlyList<string> Argv(SshEndpoint endpoint, string keyFile, string knownHostsFile, ShellCommand remote)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(remote);
        RequireAbsolute(keyFile, nameof(keyFile));
        RequireAbsolute(knownHostsFile, nameof(knownHostsFile));
        if (!NetworkNames.IsIPv4(endpoint.Address) && !NetworkNames.IsHostName(endpoint.Address))
        {
            throw new ArgumentException($"'{endpoint.Address}' is neither an IPv4 address nor a host name.", nameof(endpoint));
        }

        if (!IsUserName(endpoint.User))
        {
            throw new ArgumentException($"'{endpoint.User}' is not a user name.", nameof(endpoint));
        }

        if (endpoint.Port is < 1 or > 65535)
        {
            throw new ArgumentException($"Port {endpoint.Port} is not 1 to 65535.", nameof(endpoint));
        }

        var argv = new List<string>
        {
            "ssh", "-F", "/dev/null", "-i", keyFile,
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "UserKnownHostsFile=" + knownHostsFile,
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "IdentitiesOnly=yes",
            "-o", "ConnectTimeout=30",
            "-o", "ServerAliveInterval=60",
            "-o", "ServerAliveCountMax=5",
            "-p", endpoint.Port.ToString(CultureInfo.InvariantCulture),
        };
        if (endpoint.LegacySsh)
        {
            argv.AddRange(LegacyOptions);
        }

        argv.AddRange(["-T", endpoint.User + "@" + endpoint.Address, remote.Text]);
        return argv;
    }

    /// <summary>The ssh(1) command of <see cref="Argv"/>.</summary>
    /// <param name="endpoint">The host reached.</param>
    /// <param name="keyFile">Absolute path of the private key.</param>
    /// <param name="knownHostsFile">Absolute path of the known_hosts file.</param>
    /// <param name="remote">The remote command.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">See <see cref="Argv"/>.</exception>
    public static ShellCommand Command(SshEndpoint endpoint, string keyFile, string knownHostsFile, ShellCommand remote) =>
        ShellCommand.FromArgv(Argv(endpoint, keyFile, knownHostsFile, remote));

    /// <summary>A login name ssh(1) and the remote passwd accept: letters, digits, <c>_ . -</c>, not starting with <c>-</c> or <c>.</c>, at most 32.</summary>
    /// <param name="user">The name.</param>
    /// <returns>True when acceptable.</returns>
    public static bool IsUserName(string? user) => user is not null && UserPattern().IsMatch(user);

    private static void RequireAbsolute(string path, string name)
    {
        ArgumentNullException.ThrowIfNull(path, name);
        if (!path.StartsWith('/') || path.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{path}' is not an absolute path.", name);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")]
    private static partial Regex UserPattern();
}
