using System.Text;

namespace JailWorkflows.Shell;

/// <summary>
/// The one quoting function of JailWorkflows. Every argument that reaches a POSIX shell (sh(1) on the
/// jail host or a source server, reached locally or over SSH) passes through <see cref="Quote"/>.
/// </summary>
public static class ShellQuote
{
    /// <summary>
    /// Quotes one argument for sh(1): the result is a single word whose value is exactly
    /// <paramref name="argument"/>, whatever characters it holds (spaces, quotes, <c>$</c>, <c>`</c>,
    /// <c>;</c>, newlines). Plain words of safe characters are returned unchanged for readable logs.
    /// </summary>
    /// <param name="argument">The argument; may be empty (quoted as <c>''</c>).</param>
    /// <returns>The quoted word.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="argument"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="argument"/> holds a NUL character, which no shell word can carry.</exception>
    public static string Quote(string argument)
    {
        ArgumentNullException.ThrowIfNull(argument);
        if (argument.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("A shell argument cannot contain a NUL character.", nameof(argument));
        }

        if (argument.Length > 0 && argument.All(IsSafe))
        {
            return argument;
        }

        // Single quotes protect everything but a single quote, which is written as '\'' .
        var sb = new StringBuilder(argument.Length + 2);
        sb.Append('\'');
        foreach (var c in argument)
        {
            if (c == '\'')
            {
                sb.Append("'\\''");
            }
            else
            {
                sb.Append(c);
            }
        }

        sb.Append('\'');
        return sb.ToString();
    }

    /// <summary>Quotes every element of <paramref name="argv"/> and joins them with single spaces.</summary>
    /// <param name="argv">The argument vector, program first.</param>
    /// <returns>A shell command line that runs exactly <paramref name="argv"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="argv"/> is empty or holds a NUL character.</exception>
    public static string Join(IEnumerable<string> argv)
    {
        ArgumentNullException.ThrowIfNull(argv);
        var words = argv.Select(Quote).ToList();
        if (words.Count == 0)
        {
            throw new ArgumentException("An argument vector needs at least the program.", nameof(argv));
        }

        return string.Join(' ', words);
    }

    private static bool IsSafe(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9')
            or '-' or '_' or '.' or '/' or ',' or ':' or '=' or '+' or '@' or '%';
}
