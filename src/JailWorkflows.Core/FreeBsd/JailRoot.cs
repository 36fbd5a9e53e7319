using System.Text.RegularExpressions;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// A validated jail root: an absolute, normalised path exactly one level below the configured jails
/// directory (<c>&lt;jails dir&gt;/&lt;jail name&gt;</c>, the seed's <c>/data/jails/ServerA</c>). Every destructive
/// command of JailWorkflows takes one of these, never a string (DESIGN.md D6).
/// </summary>
public sealed partial class JailRoot : IEquatable<JailRoot>
{
    private JailRoot(string jailsDirectory, string jailName)
    {
        JailsDirectory = jailsDirectory;
        JailName = jailName;
        Path = jailsDirectory + "/" + jailName;
    }

    /// <summary>The jails directory (absolute, normalised, no trailing slash, never <c>/</c>).</summary>
    public string JailsDirectory { get; }

    /// <summary>The jail name (jail(8) <c>name</c> parameter): letters, digits, <c>_</c> and <c>-</c>.</summary>
    public string JailName { get; }

    /// <summary>The jail root's absolute path.</summary>
    public string Path { get; }

    /// <summary>Validates and creates a jail root.</summary>
    /// <param name="jailsDirectory">Absolute path of the jails directory, e.g. <c>/data/jails</c>.</param>
    /// <param name="jailName">The jail's name, e.g. <c>servera</c>.</param>
    /// <returns>The jail root <c>jailsDirectory/jailName</c>.</returns>
    /// <exception cref="ArgumentException">The directory is not absolute, is <c>/</c>, has <c>.</c>/<c>..</c> or empty
    /// segments or unsafe characters, or the name is not a valid jail name.</exception>
    public static JailRoot Create(string jailsDirectory, string jailName)
    {
        var dir = ValidateDirectory(jailsDirectory, nameof(jailsDirectory));
        ArgumentNullException.ThrowIfNull(jailName);
        if (!JailNamePattern().IsMatch(jailName))
        {
            throw new ArgumentException($"'{jailName}' is not a valid jail name (letters, digits, '_' and '-', at most 64, starting with a letter or digit).", nameof(jailName));
        }

        return new JailRoot(dir, jailName);
    }

    /// <summary>
    /// A path inside the jail root, e.g. <c>usr/src</c> or <c>/usr</c> (a partition's mount point).
    /// </summary>
    /// <param name="relative">A relative path (a leading <c>/</c> is taken as relative to the jail root).</param>
    /// <returns>The absolute path, strictly inside the jail root, or the jail root itself for <c>/</c>.</returns>
    /// <exception cref="ArgumentException">The path has <c>.</c>/<c>..</c> segments or unsafe characters.</exception>
    public string Combine(string relative)
    {
        ArgumentNullException.ThrowIfNull(relative);
        var trimmed = relative.Trim('/');
        if (trimmed.Length == 0)
        {
            return Path;
        }

        foreach (var segment in trimmed.Split('/'))
        {
            if (segment.Length == 0 || segment is "." or ".." || !SegmentPattern().IsMatch(segment))
            {
                throw new ArgumentException($"'{relative}' is not a safe path inside the jail root {Path}.", nameof(relative));
            }
        }

        return Path + "/" + trimmed;
    }

    /// <summary>Whether <paramref name="jailName"/> is a valid jail(8) name as jail roots require: letters, digits, <c>_</c>
    /// and <c>-</c>, at most 64, starting with a letter or digit.</summary>
    /// <param name="jailName">The name.</param>
    /// <returns>True when valid.</returns>
    public static bool IsValidJailName(string? jailName) => jailName is not null && JailNamePattern().IsMatch(jailName);

    /// <summary>
    /// A guard for commands that act inside the jail root: fails (exit 1, naming the path) when the jail root or
    /// any component of the given paths below it is a symbolic link. The tree came from a legacy server and is
    /// not trusted: an <c>etc</c> that links to <c>/etc</c> would make an edit of the jail's rc.conf an edit of the
    /// jail host's. Paths that do not exist pass (<c>test ! -h</c>).
    /// </summary>
    /// <param name="relatives">Paths inside the jail root, e.g. <c>etc/rc.conf</c> or <c>/usr</c>.</param>
    /// <returns>The guard; chain the action after it with <see cref="Shell.ShellCommand.And"/>.</returns>
    /// <exception cref="ArgumentException">A path is not a safe path inside the jail root.</exception>
    public Shell.ShellCommand RefuseSymlinks(params IEnumerable<string> relatives)
    {
        ArgumentNullException.ThrowIfNull(relatives);
        var checkedPaths = new List<string> { Path };
        foreach (var relative in relatives)
        {
            var trimmed = Combine(relative)[Path.Length..].Trim('/');
            var prefix = Path;
            foreach (var segment in trimmed.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                prefix += "/" + segment;
                if (!checkedPaths.Contains(prefix))
                {
                    checkedPaths.Add(prefix);
                }
            }
        }

        Shell.ShellCommand? guard = null;
        foreach (var path in checkedPaths)
        {
            var one = Shell.ShellCommand.Of("test", "!", "-h", path)
                .Or(Shell.ShellCommand.Of("printf", "jailwf: %s is a symbolic link inside the jail root; refusing to follow it\n", path)
                    .And(Shell.ShellCommand.Of("false")).Subshell())
                .Subshell();
            guard = guard is null ? one : guard.And(one);
        }

        return guard!;
    }

    /// <summary>Validates a directory path the way jail roots require (absolute, normalised, not <c>/</c>).</summary>
    /// <param name="path">The path.</param>
    /// <param name="paramName">The parameter name used in the exception.</param>
    /// <returns>The path without a trailing slash.</returns>
    /// <exception cref="ArgumentException">The path is not acceptable.</exception>
    public static string ValidateDirectory(string path, string paramName)
    {
        ArgumentNullException.ThrowIfNull(path, paramName);
        if (!path.StartsWith('/'))
        {
            throw new ArgumentException($"'{path}' is not an absolute path.", paramName);
        }

        var trimmed = path.TrimEnd('/');
        if (trimmed.Length == 0)
        {
            throw new ArgumentException("The jails directory cannot be '/'.", paramName);
        }

        foreach (var segment in trimmed[1..].Split('/'))
        {
            if (segment.Length == 0 || segment is "." or ".." || !SegmentPattern().IsMatch(segment))
            {
                throw new ArgumentException($"'{path}' is not a normalised path of safe characters (no '.', '..', '//' or shell metacharacters).", paramName);
            }
        }

        return trimmed;
    }

    /// <inheritdoc />
    public bool Equals(JailRoot? other) => other is not null && other.Path == Path;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as JailRoot);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Path);

    /// <inheritdoc />
    public override string ToString() => Path;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    private static partial Regex JailNamePattern();

    [GeneratedRegex("^[A-Za-z0-9_.+,@%=-]+$")]
    private static partial Regex SegmentPattern();
}
