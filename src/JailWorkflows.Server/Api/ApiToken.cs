using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace JailWorkflows.Server.Api;

/// <summary>
/// The HTTP API's bearer token: 256 random bits (<see cref="RandomNumberGenerator"/>), base64url without padding (43
/// characters), kept in <c>&lt;database&gt;.token</c> with mode 0600 (created so, never widened), made at serve's first start.
/// </summary>
public sealed class ApiToken
{
    private readonly byte[] _hash;

    private ApiToken(string value)
    {
        Value = value;
        _hash = SHA256.HashData(Encoding.UTF8.GetBytes(value));
    }

    /// <summary>The token text.</summary>
    public string Value { get; }

    /// <summary>Reads the token file, creating it (mode 0600, a fresh random token) when it does not exist.</summary>
    /// <param name="path">The token file (<see cref="ServeOptions.TokenPath"/>).</param>
    /// <returns>The token and whether it was created now (then serve prints it once).</returns>
    /// <exception cref="InvalidDataException">The file exists but holds no valid token.</exception>
    public static (ApiToken Token, bool Created) LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Read(path) is { } existing)
        {
            return (existing, false);
        }

        var value = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var writer = new StreamWriter(path, Encoding.ASCII, options);
            writer.Write(value + "\n");
        }
        catch (IOException) when (File.Exists(path))
        {
            // Made by another process just now: use that one.
            return (Read(path) ?? throw new InvalidDataException($"The API token file {path} holds no token."), false);
        }

        return (new ApiToken(value), true);
    }

    /// <summary>Reads the token file.</summary>
    /// <param name="path">The token file.</param>
    /// <returns>The token, or null when the file does not exist.</returns>
    /// <exception cref="InvalidDataException">The file holds no valid token (43 base64url characters).</exception>
    public static ApiToken? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var value = File.ReadAllText(path).Trim();
        return value.Length == 43 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            ? new ApiToken(value)
            : throw new InvalidDataException($"The API token file {path} holds no valid token; remove it and start serve again to make a new one.");
    }

    /// <summary>Whether an <c>Authorization</c> header value is <c>Bearer &lt;this token&gt;</c>; compared in constant time (of hashes, so the length leaks nothing either).</summary>
    /// <param name="authorization">The header value, or null.</param>
    /// <returns>True when it carries this token.</returns>
    public bool Accepts(string? authorization)
    {
        const string Scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var given = SHA256.HashData(Encoding.UTF8.GetBytes(authorization[Scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(given, _hash);
    }
}
