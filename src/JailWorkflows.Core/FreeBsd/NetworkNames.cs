using System.Globalization;
using System.Text.RegularExpressions;

namespace JailWorkflows.FreeBsd;

/// <summary>Strict checks for IPv4 addresses and host names (RFC 1123): nothing a shell or config file could misread.</summary>
public static partial class NetworkNames
{
    /// <summary>A dotted-quad IPv4 address, four decimal numbers 0..255 without leading zeros (<c>10.0.0.5</c>).</summary>
    /// <param name="text">The text.</param>
    /// <returns>True when it is one.</returns>
    public static bool IsIPv4(string? text)
    {
        if (text is null)
        {
            return false;
        }

        var parts = text.Split('.');
        return parts.Length == 4 && parts.All(p =>
            p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && (p.Length == 1 || p[0] != '0')
            && int.Parse(p, CultureInfo.InvariantCulture) <= 255);
    }

    /// <summary>True when the text looks like an attempt at an IPv4 address (only digits and dots), valid or not.</summary>
    /// <param name="text">The text.</param>
    /// <returns>Whether only digits and dots.</returns>
    public static bool LooksNumeric(string? text) => !string.IsNullOrEmpty(text) && text.All(c => char.IsAsciiDigit(c) || c == '.');

    /// <summary>An RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, at most 253 characters.</summary>
    /// <param name="text">The text.</param>
    /// <returns>True when it is one (and not all-numeric).</returns>
    public static bool IsHostName(string? text) =>
        text is not null && text.Length <= 253 && !LooksNumeric(text) && HostNamePattern().IsMatch(text);

    [GeneratedRegex(@"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")]
    private static partial Regex HostNamePattern();
}
