using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace JailWorkflows.FreeBsd;

/// <summary>known_hosts lines (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT") for the pinned host keys of the plan.</summary>
public static class KnownHosts
{
    /// <summary>The host key types accepted in a plan (OpenSSH names).</summary>
    public static IReadOnlyList<string> KnownKeyTypes { get; } =
    [
        "ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ];

    /// <summary>
    /// One known_hosts line: <c>addr type base64</c>, or <c>[addr]:port type base64</c> when the port is not 22.
    /// </summary>
    /// <param name="address">IPv4 address or host name as the ssh(1) command line names it.</param>
    /// <param name="port">TCP port.</param>
    /// <param name="hostKey">The public key: <c>type base64</c> (a trailing comment is dropped).</param>
    /// <returns>The line, without a newline.</returns>
    /// <exception cref="ArgumentException">The address holds characters not allowed in a host name or address, or
    /// the key is not a valid <c>type base64</c> public key of a known type.</exception>
    public static string Line(string address, int port, string hostKey)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!NetworkNames.IsIPv4(address) && !NetworkNames.IsHostName(address))
        {
            throw new ArgumentException($"'{address}' is neither an IPv4 address nor a host name.", nameof(address));
        }

        if (port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(port), port, "A TCP port is 1 to 65535.");
        }

        if (!TryNormalizeHostKey(hostKey, out var key, out var error))
        {
            throw new ArgumentException(error, nameof(hostKey));
        }

        var host = port == 22 ? address : string.Create(CultureInfo.InvariantCulture, $"[{address}]:{port}");
        return host + " " + key;
    }

    /// <summary>
    /// Checks a public key written <c>type base64 [comment]</c>: a known type, valid base64, and a key blob that
    /// names the same type (so a key pasted under the wrong type is caught).
    /// </summary>
    /// <param name="hostKey">The key text.</param>
    /// <param name="normalized"><c>type base64</c> without comment, or empty.</param>
    /// <param name="error">Why it is not valid, or empty.</param>
    /// <returns>True when valid.</returns>
    public static bool TryNormalizeHostKey(string? hostKey, out string normalized, out string error)
    {
        normalized = string.Empty;
        var parts = (hostKey ?? string.Empty).Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is < 2 or > 3)
        {
            error = $"'{hostKey}' is not a public key of the form '<type> <base64>'";
            return false;
        }

        var (type, data) = (parts[0], parts[1]);
        if (!KnownKeyTypes.Contains(type, StringComparer.Ordinal))
        {
            error = $"'{type}' is not a known host key type ({string.Join(", ", KnownKeyTypes)})";
            return false;
        }

        var buffer = new byte[data.Length];
        if (!Convert.TryFromBase64String(data, buffer, out var length))
        {
            error = $"the key data of '{type}' is not valid base64";
            return false;
        }

        var nameLength = length < 4 ? uint.MaxValue : BinaryPrimitives.ReadUInt32BigEndian(buffer);
        if (nameLength > length - 4 || Encoding.ASCII.GetString(buffer, 4, (int)nameLength) != type)
        {
            error = $"the key data is not a '{type}' public key";
            return false;
        }

        normalized = type + " " + data;
        error = string.Empty;
        return true;
    }
}
