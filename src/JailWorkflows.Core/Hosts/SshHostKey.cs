using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace JailWorkflows.Hosts;

/// <summary>
/// An SSH public key in the known_hosts / <c>.pub</c> form <c>&lt;type&gt; &lt;base64&gt;</c>, parsed and checked:
/// the base64 blob is an RFC 4253 public key blob whose embedded type name equals <c>&lt;type&gt;</c>.
/// </summary>
internal sealed record SshHostKey(string Type, byte[] Blob)
{
    /// <summary>The key as known_hosts writes it: <c>&lt;type&gt; &lt;base64&gt;</c>.</summary>
    public string Text => Type + " " + Convert.ToBase64String(Blob);

    /// <summary>The SHA256 fingerprint as ssh-keygen -lf prints it: <c>SHA256:</c> and unpadded base64.</summary>
    public string Fingerprint => "SHA256:" + Convert.ToBase64String(SHA256.HashData(Blob)).TrimEnd('=');

    /// <summary>Parses <c>&lt;type&gt; &lt;base64&gt; [comment]</c>.</summary>
    /// <param name="publicKey">The key text.</param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentException">Not a public key of that form.</exception>
    public static SshHostKey Parse(string publicKey)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        var parts = publicKey.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2)
        {
            throw new ArgumentException($"'{publicKey}' is not an SSH public key of the form '<type> <base64>'.", nameof(publicKey));
        }

        byte[] blob;
        try
        {
            blob = Convert.FromBase64String(parts[1]);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"The SSH public key of type '{parts[0]}' has invalid base64.", nameof(publicKey), e);
        }

        var embedded = BlobType(blob)
            ?? throw new ArgumentException($"The SSH public key of type '{parts[0]}' is not a valid key blob.", nameof(publicKey));
        if (!string.Equals(embedded, parts[0], StringComparison.Ordinal))
        {
            throw new ArgumentException($"The SSH public key says type '{parts[0]}' but its blob is '{embedded}'.", nameof(publicKey));
        }

        return new SshHostKey(embedded, blob);
    }

    /// <summary>Makes a key from a blob as the server sent it.</summary>
    /// <param name="blob">The RFC 4253 public key blob.</param>
    /// <returns>The key; its type read from the blob (<c>unknown</c> if unreadable).</returns>
    public static SshHostKey FromBlob(byte[] blob) => new(BlobType(blob) ?? "unknown", blob);

    /// <summary>True when both blobs are byte for byte equal.</summary>
    /// <param name="other">The other key.</param>
    /// <returns>Whether the keys are the same.</returns>
    public bool SameKey(SshHostKey other) => Blob.AsSpan().SequenceEqual(other.Blob);

    private static string? BlobType(byte[] blob)
    {
        if (blob.Length < 4)
        {
            return null;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(blob);
        if (length == 0 || length > 64 || length > blob.Length - 4)
        {
            return null;
        }

        var name = Encoding.ASCII.GetString(blob, 4, (int)length);
        return name.All(c => c is > ' ' and < (char)127) ? name : null;
    }
}

/// <summary>What <see cref="SshHost.ScanAsync"/> saw of a server before refusing to trust it.</summary>
/// <param name="HostKey">The presented host key, <c>&lt;type&gt; &lt;base64&gt;</c> as known_hosts writes it.</param>
/// <param name="Fingerprint">Its SHA256 fingerprint as <c>ssh-keygen -lf</c> prints it (<c>SHA256:…</c>).</param>
/// <param name="ServerVersion">The server's identification string, e.g. <c>SSH-2.0-OpenSSH_3.8.1p1 FreeBSD-20040419</c>; empty when unknown.</param>
public sealed record SshHostScan(string HostKey, string Fingerprint, string ServerVersion);
