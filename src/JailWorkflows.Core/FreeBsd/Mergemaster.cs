using System.Text.RegularExpressions;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// mergemaster(8) against a jail root: <c>-D &lt;root&gt;</c> (destination), <c>-m &lt;src&gt;</c> (source tree),
/// <c>-t &lt;temproot&gt;</c>, <c>-a</c> (unattended: differing files stay in the temproot for a person).
/// Even with <c>-a</c> it can prompt, so it runs with standard input from <c>/dev/null</c> and <c>PAGER=cat</c>;
/// the caller adds a no-output watchdog.
/// </summary>
public static partial class Mergemaster
{
    /// <summary>
    /// <c>PAGER=cat mergemaster -i -D &lt;root&gt; -m &lt;src&gt; -t &lt;temproot&gt; &lt; /dev/null</c>: the unattended first conversion.
    /// <c>-i</c> installs the files the jail lacks (a 4.x <c>/etc</c> lacks most of a modern one); every prompt reads
    /// end-of-file and takes its default, so a file that differs is left in the temproot "for your consideration",
    /// as <c>-a</c> would (mergemaster(8): <c>-a</c> installs nothing and cannot be combined with <c>-i</c>). Remove an
    /// existing temproot first.
    /// </summary>
    /// <param name="srcDir">The source tree (<c>-m</c>), e.g. <c>/usr/src</c>.</param>
    /// <param name="root">The jail root (<c>-D</c>).</param>
    /// <param name="tempRoot">Absolute temproot directory (<c>-t</c>), outside the jail root.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">A path is not absolute, or the temproot is inside the jail root.</exception>
    public static ShellCommand Unattended(string srcDir, JailRoot root, string tempRoot) => Build(srcDir, root, tempRoot, preWorld: false);

    /// <summary>
    /// <c>PAGER=cat mergemaster -p -a -D &lt;root&gt; -m &lt;src&gt; -t &lt;temproot&gt; &lt; /dev/null</c>: the pre-installworld pass
    /// (passwd and group only), so installworld finds the users it needs. Follow with <see cref="PwdMkdb"/>.
    /// </summary>
    /// <param name="srcDir">The source tree.</param>
    /// <param name="root">The jail root.</param>
    /// <param name="tempRoot">Absolute temproot directory.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">See <see cref="Unattended"/>.</exception>
    public static ShellCommand PreWorld(string srcDir, JailRoot root, string tempRoot) => Build(srcDir, root, tempRoot, preWorld: true);

    /// <summary><c>pwd_mkdb -d &lt;root&gt;/etc -p &lt;root&gt;/etc/master.passwd</c>: rebuild the jail's password databases (pwd_mkdb(8)).</summary>
    /// <param name="root">The jail root.</param>
    /// <returns>The command.</returns>
    public static ShellCommand PwdMkdb(JailRoot root)
    {
        ArgumentNullException.ThrowIfNull(root);
        return ShellCommand.Of("pwd_mkdb", "-d", root.Combine("etc"), "-p", root.Combine("etc/master.passwd"));
    }

    /// <summary>
    /// Reads mergemaster's output: the files left for a person (<c>*** ./etc/rc.conf will remain for your
    /// consideration</c>, and the list after <c>*** Files that remain for you to merge by hand:</c>), files it
    /// failed to install (<c>Problem installing …</c>), the temproot it really used, and whether it reached
    /// <c>*** Comparison complete</c>.
    /// </summary>
    /// <param name="output">Standard output (and error) of the run.</param>
    /// <param name="tempRoot">The temproot passed with <c>-t</c>.</param>
    /// <returns>The report; paths relative to the root, without a leading slash (<c>etc/rc.conf</c>).</returns>
    public static MergemasterReport ParseOutput(string output, string tempRoot)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(tempRoot);
        var usedTempRoot = tempRoot.TrimEnd('/');
        var remaining = new List<string>();
        var problems = new List<string>();
        var completed = false;
        var inList = false;
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.TrimEnd('\r').Trim();
            if (inList)
            {
                if (line.Length == 0 || line.StartsWith("***", StringComparison.Ordinal))
                {
                    inList = false;
                }
                else
                {
                    Add(remaining, Relative(line, usedTempRoot));
                    continue;
                }
            }

            Match m;
            if ((m = CreatingPattern().Match(line)).Success)
            {
                // Only the given temproot or the one mergemaster derives from it (<temproot>.<date>): callers remove it.
                var dir = m.Groups["dir"].Value.TrimEnd('/');
                var given = tempRoot.TrimEnd('/');
                var suffix = dir.StartsWith(given + ".", StringComparison.Ordinal) ? dir[(given.Length + 1)..] : null;
                if (dir == given || (suffix is { Length: > 0 } && !suffix.Contains('/', StringComparison.Ordinal) && !suffix.Contains("..", StringComparison.Ordinal)))
                {
                    usedTempRoot = dir;
                }
            }
            else if ((m = RemainPattern().Match(line)).Success)
            {
                Add(remaining, Relative(m.Groups["file"].Value, usedTempRoot));
            }
            else if ((m = ProblemPattern().Match(line)).Success)
            {
                Add(problems, Relative(m.Groups["file"].Value, usedTempRoot));
            }
            else if (line.StartsWith("*** Files that remain for you to merge by hand", StringComparison.Ordinal))
            {
                inList = true;
            }
            else if (line.StartsWith("*** Comparison complete", StringComparison.Ordinal))
            {
                completed = true;
            }
        }

        return new MergemasterReport(remaining, problems, usedTempRoot, completed);
    }

    private static void Add(List<string> list, string? path)
    {
        if (path is not null && !list.Contains(path, StringComparer.Ordinal))
        {
            list.Add(path);
        }
    }

    private static string? Relative(string path, string tempRoot)
    {
        if (path.StartsWith(tempRoot + "/", StringComparison.Ordinal))
        {
            return path[(tempRoot.Length + 1)..];
        }

        if (path.StartsWith("./", StringComparison.Ordinal))
        {
            return path[2..];
        }

        return path.StartsWith('/') ? path[1..] : null;
    }

    private static ShellCommand Build(string srcDir, JailRoot root, string tempRoot, bool preWorld)
    {
        ArgumentNullException.ThrowIfNull(srcDir);
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(tempRoot);
        if (!srcDir.StartsWith('/') || !tempRoot.StartsWith('/'))
        {
            throw new ArgumentException("The source tree and the temproot must be absolute paths.", nameof(tempRoot));
        }

        if ((tempRoot.TrimEnd('/') + "/").StartsWith(root.Path + "/", StringComparison.Ordinal))
        {
            throw new ArgumentException($"The temproot '{tempRoot}' must not be inside the jail root {root.Path}.", nameof(tempRoot));
        }

        // -a never installs files the jail lacks, and cannot be combined with -i; a first conversion needs
        // both behaviours, so it runs -i with every prompt answered by its default from /dev/null ("leave it
        // for later"), which is what -a does for the files that differ.
        List<string> argv = preWorld ? ["mergemaster", "-p", "-a"] : ["mergemaster", "-i"];
        argv.AddRange(["-D", root.Path, "-m", srcDir, "-t", tempRoot]);
        return ShellCommand.FromArgv(argv).WithEnvironment([new("PAGER", "cat")]).ReadFrom("/dev/null");
    }

    [GeneratedRegex(@"^\*+ (?<file>\S+) will remain for your consideration")]
    private static partial Regex RemainPattern();

    [GeneratedRegex(@"Problem installing (?<file>\S+?),? it will remain", RegexOptions.IgnoreCase)]
    private static partial Regex ProblemPattern();

    [GeneratedRegex(@"^\*\*\* Creating the temporary root environment in (?<dir>\S+)")]
    private static partial Regex CreatingPattern();
}

/// <summary>What a mergemaster(8) run left to do.</summary>
/// <param name="Remaining">Files that differ and wait for a person (relative to the root, e.g. <c>etc/rc.conf</c>), in order, without duplicates.</param>
/// <param name="Problems">Files mergemaster failed to install.</param>
/// <param name="TempRoot">The temproot mergemaster really used (it picks another in <c>-a</c> mode when the given one exists).</param>
/// <param name="Completed">Whether it printed <c>*** Comparison complete</c>.</param>
public sealed record MergemasterReport(IReadOnlyList<string> Remaining, IReadOnlyList<string> Problems, string TempRoot, bool Completed);
