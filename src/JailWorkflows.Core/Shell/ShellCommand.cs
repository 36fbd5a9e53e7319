namespace JailWorkflows.Shell;

/// <summary>
/// A command line for sh(1), built only from argument vectors (quoted by <see cref="ShellQuote"/>) and
/// fixed operators. There is deliberately no way to make one from an arbitrary string: that is what
/// keeps shell metacharacters in plan values from ever being interpreted.
/// </summary>
public sealed class ShellCommand
{
    private ShellCommand(string text) => Text = text;

    /// <summary>The command line as sh(1) reads it.</summary>
    public string Text { get; }

    /// <summary>A simple command: <paramref name="program"/> with its arguments, each quoted.</summary>
    /// <param name="program">The program (a name looked up in PATH, or an absolute path).</param>
    /// <param name="arguments">The arguments, passed verbatim.</param>
    /// <returns>The command.</returns>
    public static ShellCommand Of(string program, params IEnumerable<string> arguments) =>
        new(ShellQuote.Join(arguments.Prepend(program)));

    /// <summary>A simple command from a whole argument vector.</summary>
    /// <param name="argv">Program first, then its arguments.</param>
    /// <returns>The command.</returns>
    public static ShellCommand FromArgv(IReadOnlyList<string> argv) => new(ShellQuote.Join(argv));

    /// <summary>The same command with environment assignments in front (<c>NAME=value cmd</c>).</summary>
    /// <param name="variables">Names must be shell identifiers; values are quoted.</param>
    /// <returns>The command with its environment.</returns>
    /// <exception cref="ArgumentException">A name is not a valid shell identifier.</exception>
    public ShellCommand WithEnvironment(IEnumerable<KeyValuePair<string, string>> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var prefix = string.Concat(variables.Select(v => ValidName(v.Key) + "=" + ShellQuote.Quote(v.Value) + " "));
        return new(prefix + Text);
    }

    /// <summary><c>this | next</c>: a pipeline.</summary>
    /// <param name="next">The reading side.</param>
    /// <returns>The pipeline.</returns>
    public ShellCommand Pipe(ShellCommand next) => new($"{Text} | {Require(next).Text}");

    /// <summary><c>this &amp;&amp; next</c>.</summary>
    /// <param name="next">Runs only when this command exits 0.</param>
    /// <returns>The list.</returns>
    public ShellCommand And(ShellCommand next) => new($"{Text} && {Require(next).Text}");

    /// <summary><c>this || next</c>.</summary>
    /// <param name="next">Runs only when this command exits non-zero.</param>
    /// <returns>The list.</returns>
    public ShellCommand Or(ShellCommand next) => new($"{Text} || {Require(next).Text}");

    /// <summary><c>this ; next</c>.</summary>
    /// <param name="next">Runs after this command, whatever its exit status.</param>
    /// <returns>The sequence.</returns>
    public ShellCommand Then(ShellCommand next) => new($"{Text}; {Require(next).Text}");

    /// <summary><c>( this )</c>: a subshell, so a <c>cd</c> or redirection inside stays inside.</summary>
    /// <returns>The subshell.</returns>
    public ShellCommand Subshell() => new($"( {Text} )");

    /// <summary><c>this &gt; path</c> (or <c>2&gt;</c> with <paramref name="fd"/> 2).</summary>
    /// <param name="path">The file; quoted.</param>
    /// <param name="fd">The file descriptor redirected (1 stdout, 2 stderr).</param>
    /// <param name="append">Append (<c>&gt;&gt;</c>) instead of truncating.</param>
    /// <returns>The redirected command.</returns>
    public ShellCommand RedirectTo(string path, int fd = 1, bool append = false) =>
        new($"{Text} {FdPrefix(fd)}{(append ? ">>" : ">")} {ShellQuote.Quote(path)}");

    /// <summary><c>this &lt; path</c>.</summary>
    /// <param name="path">The file read as standard input; quoted.</param>
    /// <returns>The redirected command.</returns>
    public ShellCommand ReadFrom(string path) => new($"{Text} < {ShellQuote.Quote(path)}");

    /// <summary><c>this 2&gt;&amp;1</c>.</summary>
    /// <returns>The command with standard error joined to standard output.</returns>
    public ShellCommand MergeStdErr() => new($"{Text} 2>&1");

    /// <summary>
    /// Wraps this command so its exit status is written to <paramref name="statusFile"/> when it ends:
    /// <c>( this ); echo $? &gt; statusFile</c>. Used for each side of a pipeline, since sh(1) has no PIPESTATUS.
    /// </summary>
    /// <param name="statusFile">The file that receives the decimal exit status.</param>
    /// <returns>The wrapped command.</returns>
    public ShellCommand RecordExitStatus(string statusFile) =>
        new($"{{ {Text}; echo $? > {ShellQuote.Quote(statusFile)}; }}");

    /// <inheritdoc />
    public override string ToString() => Text;

    private static ShellCommand Require(ShellCommand next) => next ?? throw new ArgumentNullException(nameof(next));

    private static string FdPrefix(int fd) => fd switch
    {
        1 => string.Empty,
        2 => "2",
        _ => throw new ArgumentOutOfRangeException(nameof(fd), fd, "Only stdout (1) and stderr (2) are redirected."),
    };

    private static string ValidName(string name)
    {
        if (name.Length == 0 || !(char.IsAsciiLetter(name[0]) || name[0] == '_') || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"'{name}' is not a shell variable name.", nameof(name));
        }

        return name;
    }
}
