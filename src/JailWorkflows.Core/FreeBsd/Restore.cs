using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>restore(8) on the jail host: the command line and how its failures show.</summary>
public static class Restore
{
    /// <summary>
    /// The file <c>restore -r</c> leaves in the directory it restored into. Keep it while a higher-level (delta)
    /// dump of the same partition follows; delete it after the last pass (it must not stay in the jail).
    /// </summary>
    public const string SymbolTableFile = "restoresymtable";

    /// <summary>
    /// The phrases that mean a restore went wrong even when it exits 0 (FREEBSD.md): without a tty restore answers
    /// "no" to its <c>abort?</c> questions and carries on.
    /// </summary>
    public static IReadOnlyList<string> FailurePhrases { get; } = ["abort?", "bad entry", "cannot create"];

    /// <summary><c>restore -rf -</c>: rebuild the dump read from standard input into the current directory (meant to be empty).</summary>
    /// <returns>The command.</returns>
    public static ShellCommand Command() => ShellCommand.Of("restore", "-rf", "-");

    /// <summary>
    /// The lines of restore(8) output that show a failure: those holding <c>abort?</c>, <c>bad entry</c> or
    /// <c>cannot create</c> (case-insensitive).
    /// </summary>
    /// <param name="stderrOrOutput">restore's standard error (or its merged output).</param>
    /// <returns>Each failing line with the phrase found, in order; empty when none.</returns>
    public static IReadOnlyList<RestoreFailure> FailureIn(string stderrOrOutput)
    {
        ArgumentNullException.ThrowIfNull(stderrOrOutput);
        var found = new List<RestoreFailure>();
        foreach (var raw in stderrOrOutput.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var phrase = FailurePhrases.FirstOrDefault(p => line.Contains(p, StringComparison.OrdinalIgnoreCase));
            if (phrase is not null)
            {
                found.Add(new RestoreFailure(phrase, line.Trim()));
            }
        }

        return found;
    }
}

/// <summary>A restore(8) output line that shows a failure.</summary>
/// <param name="Phrase">The failure phrase found (one of <see cref="Restore.FailurePhrases"/>).</param>
/// <param name="Line">The whole line, trimmed.</param>
public sealed record RestoreFailure(string Phrase, string Line);
