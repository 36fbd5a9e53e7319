using System.Globalization;
using System.Text.RegularExpressions;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// <c>ifconfig -a</c> (ifconfig(8)): the network interfaces of a FreeBSD host and their IPv4 addresses, to find
/// the address a source server answers on (its jail usually keeps it).
/// </summary>
/// <remarks>
/// The format has been stable from 4.x to 14.x: an unindented header line per interface,
/// <c>fxp0: flags=8843&lt;UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST&gt; mtu 1500</c> (14.x adds <c>metric 0</c> and
/// <c>LOWER_UP</c>), followed by tab-indented lines, among them <c>inet 10.11.12.13 netmask 0xffffff00 broadcast
/// 10.11.12.255</c> per IPv4 address; the first <c>inet</c> line of an interface is its primary address, later ones
/// are aliases (usually with netmask <c>0xffffffff</c>). <c>inet6</c>, <c>ether</c>, <c>media</c>, <c>status</c>,
/// <c>options</c>, <c>nd6</c>, <c>groups</c> and other lines are skipped. Besides the hex netmask, the dotted
/// form and <c>inet 10.0.0.5/24</c> (14.x <c>ifconfig -f inet:cidr</c>) are read too.
/// </remarks>
public static partial class Ifconfig
{
    /// <summary><c>ifconfig -a</c>: every interface, up or down.</summary>
    /// <returns>The command.</returns>
    public static ShellCommand Command() => ShellCommand.Of("ifconfig", "-a");

    /// <summary>Reads <c>ifconfig -a</c> output.</summary>
    /// <param name="output">The output (LF or CRLF line ends).</param>
    /// <returns>The interfaces in the order listed, each with its IPv4 addresses in order.</returns>
    /// <exception cref="FormatException">An <c>inet</c> line appears before any interface header, or its address or netmask is malformed.</exception>
    public static IReadOnlyList<IfconfigInterface> Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var interfaces = new List<IfconfigInterface>();
        string? name = null;
        IReadOnlySet<string> flags = new HashSet<string>();
        var mtu = 0;
        var addresses = new List<Inet4Address>();

        void Flush()
        {
            if (name is not null)
            {
                interfaces.Add(new IfconfigInterface(name, flags, mtu, addresses.ToList()));
            }

            addresses.Clear();
        }

        foreach (var raw in output.Split('\n'))
        {
            var line = raw.TrimEnd('\r', ' ', '\t');
            if (line.Length == 0)
            {
                continue;
            }

            if (!char.IsWhiteSpace(line[0]))
            {
                var header = HeaderPattern().Match(line);
                if (!header.Success)
                {
                    continue;
                }

                Flush();
                name = header.Groups["name"].Value;
                flags = header.Groups["flags"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
                mtu = header.Groups["mtu"].Success ? int.Parse(header.Groups["mtu"].Value, NumberStyles.None, CultureInfo.InvariantCulture) : 0;
                continue;
            }

            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2 || fields[0] != "inet")
            {
                continue;
            }

            if (name is null)
            {
                throw new FormatException($"'{line.Trim()}': an inet line before any interface header.");
            }

            addresses.Add(ReadInet(fields, line));
        }

        Flush();
        return interfaces;
    }

    /// <summary>Every IPv4 address of every interface (aliases included) as (interface, address) pairs, in order.</summary>
    /// <param name="output">ifconfig's standard output.</param>
    /// <returns>The pairs.</returns>
    public static IReadOnlyList<InterfaceAddress> ParseIPv4(string output) =>
        Parse(output).SelectMany(i => i.Addresses.Select(a => new InterfaceAddress(i.Name, a.Address))).ToList();

    /// <summary>
    /// The address a server is known by: the first IPv4 address of the first interface that is <c>UP</c>, not
    /// <c>LOOPBACK</c> and has one (not in 127.0.0.0/8). Aliases and later interfaces are not considered.
    /// </summary>
    /// <param name="interfaces">Parsed <c>ifconfig -a</c>.</param>
    /// <returns>The address, or null when there is none.</returns>
    public static Inet4Address? PrimaryAddress(IEnumerable<IfconfigInterface> interfaces)
    {
        ArgumentNullException.ThrowIfNull(interfaces);
        return interfaces
            .Where(i => i.IsUp && !i.IsLoopback)
            .Select(i => i.Addresses.FirstOrDefault(a => !a.Address.StartsWith("127.", StringComparison.Ordinal)))
            .FirstOrDefault(a => a is not null);
    }

    private static Inet4Address ReadInet(string[] fields, string line)
    {
        var address = fields[1];
        int? prefix = null;
        var slash = address.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            prefix = int.TryParse(address.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p <= 32
                ? p
                : throw new FormatException($"'{line.Trim()}': '{address}' has no valid prefix length.");
            address = address[..slash];
        }

        if (!NetworkNames.IsIPv4(address))
        {
            throw new FormatException($"'{line.Trim()}': '{address}' is not an IPv4 address.");
        }

        string? broadcast = null;
        for (var i = 2; i + 1 < fields.Length; i++)
        {
            switch (fields[i])
            {
                case "netmask":
                    prefix = PrefixLength(fields[i + 1]) ?? throw new FormatException($"'{line.Trim()}': '{fields[i + 1]}' is not a netmask.");
                    i++;
                    break;
                case "broadcast":
                    broadcast = fields[i + 1];
                    i++;
                    break;
            }
        }

        return new Inet4Address(address, prefix ?? 32, broadcast);
    }

    /// <summary>A netmask as ifconfig prints it (<c>0xffffff00</c>, or dotted <c>255.255.255.0</c>) as a prefix length; null when not a contiguous mask.</summary>
    private static int? PrefixLength(string netmask)
    {
        uint mask;
        if (netmask.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            if (!uint.TryParse(netmask.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out mask))
            {
                return null;
            }
        }
        else if (NetworkNames.IsIPv4(netmask))
        {
            mask = netmask.Split('.').Aggregate(0u, (m, part) => (m << 8) | uint.Parse(part, CultureInfo.InvariantCulture));
        }
        else
        {
            return null;
        }

        var length = System.Numerics.BitOperations.PopCount(mask);
        var contiguous = length == 0 ? mask == 0 : mask == uint.MaxValue << (32 - length);
        return contiguous ? length : null;
    }

    [GeneratedRegex(@"^(?<name>[A-Za-z0-9_.-]+):\s+flags=[0-9a-fA-F]+<(?<flags>[A-Z0-9_,]*)>(?:.*?\bmtu\s+(?<mtu>[0-9]+))?")]
    private static partial Regex HeaderPattern();
}

/// <summary>An interface as <c>ifconfig -a</c> lists it.</summary>
/// <param name="Name">The interface name, e.g. <c>fxp0</c>, <c>em0</c>, <c>lo0</c>.</param>
/// <param name="Flags">The flag names between the angle brackets, e.g. <c>UP</c>, <c>BROADCAST</c>, <c>LOOPBACK</c>.</param>
/// <param name="Mtu">The MTU in bytes; 0 when not shown.</param>
/// <param name="Addresses">Its IPv4 addresses, primary first, then aliases.</param>
public sealed record IfconfigInterface(string Name, IReadOnlySet<string> Flags, int Mtu, IReadOnlyList<Inet4Address> Addresses)
{
    /// <summary>True when the <c>UP</c> flag is set (administratively up).</summary>
    public bool IsUp => Flags.Contains("UP");

    /// <summary>True when the <c>LOOPBACK</c> flag is set (lo0).</summary>
    public bool IsLoopback => Flags.Contains("LOOPBACK");
}

/// <summary>An IPv4 address of an interface.</summary>
/// <param name="Address">Dotted quad, e.g. <c>10.11.12.13</c>.</param>
/// <param name="PrefixLength">Netmask as a prefix length (24 for <c>0xffffff00</c>); 32 when ifconfig printed none.</param>
/// <param name="Broadcast">The broadcast address, or null when not shown (loopback, point-to-point).</param>
public sealed record Inet4Address(string Address, int PrefixLength, string? Broadcast);
