using System.Globalization;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// Building and installing the world on the jail host (build(7), src.conf(5)): <c>make buildworld</c> once,
/// <c>make installworld DESTDIR=&lt;jail root&gt;</c> into each jail.
/// </summary>
public static class Make
{
    /// <summary>The first source release whose resume knob is <c>WITHOUT_CLEAN=yes</c> instead of <c>-DNO_CLEAN</c>: 14.0.</summary>
    public static FreeBsdRelease WithoutCleanSince { get; } = new(14, 0);

    /// <summary>
    /// <c>[MAKEOBJDIRPREFIX=&lt;objdir&gt;] make -C &lt;src&gt; -j&lt;N&gt; [-DNO_CLEAN | WITHOUT_CLEAN=yes] buildworld</c>.
    /// A plain rerun cleans the object tree first and loses hours of work; <paramref name="resume"/> keeps it:
    /// <c>-DNO_CLEAN</c> for source trees before 14.0, <c>WITHOUT_CLEAN=yes</c> from 14.0 (src.conf(5)).
    /// No kernel is built: jails share the host's kernel.
    /// </summary>
    /// <param name="srcDir">The source tree, e.g. <c>/usr/src</c>.</param>
    /// <param name="jobs">Parallel jobs (<c>-j</c>), 1..1024; resolve "0 = CPU count" (<c>sysctl -n hw.ncpu</c>) before calling.</param>
    /// <param name="srcRelease">The release of the source tree (not of the running host): decides the resume knob.</param>
    /// <param name="resume">Keep the existing object tree (resume an interrupted build).</param>
    /// <param name="objDir">MAKEOBJDIRPREFIX (e.g. <c>/usr/obj</c>), set in the environment; null leaves make's default.
    /// installworld must use the same value.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">A path is not absolute, or <paramref name="jobs"/> out of range.</exception>
    public static ShellCommand BuildWorld(string srcDir, int jobs, FreeBsdRelease srcRelease, bool resume, string? objDir = null)
    {
        ArgumentNullException.ThrowIfNull(srcRelease);
        RequireAbsolute(srcDir, nameof(srcDir));
        if (jobs is < 1 or > 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(jobs), jobs, "make -j takes 1 to 1024 jobs; resolve 0 (CPU count) first.");
        }

        var argv = new List<string> { "make", "-C", srcDir, "-j" + jobs.ToString(CultureInfo.InvariantCulture) };
        if (resume)
        {
            argv.Add(srcRelease >= WithoutCleanSince ? "WITHOUT_CLEAN=yes" : "-DNO_CLEAN");
        }

        argv.Add("buildworld");
        return WithObjDir(ShellCommand.FromArgv(argv), objDir);
    }

    /// <summary>
    /// <c>[MAKEOBJDIRPREFIX=&lt;objdir&gt;] make -C &lt;src&gt; installworld DESTDIR=&lt;jail root&gt;</c>. Needs host
    /// securelevel &lt;= 0, the jail stopped, and passwd/group merged first (installworld checks required users).
    /// Never run it from an object tree whose buildworld did not finish.
    /// </summary>
    /// <param name="srcDir">The source tree buildworld ran in.</param>
    /// <param name="destDir">The jail root installed into.</param>
    /// <param name="objDir">The MAKEOBJDIRPREFIX buildworld used; null for make's default.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">A path is not absolute.</exception>
    public static ShellCommand InstallWorld(string srcDir, JailRoot destDir, string? objDir = null)
    {
        ArgumentNullException.ThrowIfNull(destDir);
        RequireAbsolute(srcDir, nameof(srcDir));
        return WithObjDir(ShellCommand.Of("make", "-C", srcDir, "installworld", "DESTDIR=" + destDir.Path), objDir);
    }

    /// <summary>
    /// Prints the <c>REVISION=</c> and <c>BRANCH=</c> lines of <c>&lt;src&gt;/sys/conf/newvers.sh</c>, which define
    /// the release a source tree builds; read them with <see cref="ParseNewvers"/>.
    /// </summary>
    /// <param name="srcDir">The source tree.</param>
    /// <returns>The command.</returns>
    public static ShellCommand ReadNewvers(string srcDir)
    {
        RequireAbsolute(srcDir, nameof(srcDir));
        return ShellCommand.Of("grep", "-E", "^(REVISION|BRANCH)=", srcDir.TrimEnd('/') + "/sys/conf/newvers.sh");
    }

    /// <summary>Reads <c>REVISION="14.1"</c> and <c>BRANCH="RELEASE-p5"</c> lines of newvers.sh into a release.</summary>
    /// <param name="output">The lines.</param>
    /// <returns>The release of the source tree.</returns>
    /// <exception cref="FormatException">The lines are missing or malformed.</exception>
    public static FreeBsdRelease ParseNewvers(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        string? revision = null, branch = null;
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.Trim();
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                continue;
            }

            var value = line[(eq + 1)..].Trim().Trim('"');
            switch (line[..eq])
            {
                case "REVISION": revision = value; break;
                case "BRANCH": branch = value; break;
            }
        }

        if (revision is null || branch is null)
        {
            throw new FormatException("newvers.sh output lacks REVISION= or BRANCH=.");
        }

        // BRANCH may carry ${BRANCH_OVERRIDE} forms; only the plain value is understood.
        return FreeBsdRelease.Parse(revision + "-" + branch);
    }

    private static ShellCommand WithObjDir(ShellCommand command, string? objDir)
    {
        if (objDir is null)
        {
            return command;
        }

        RequireAbsolute(objDir, nameof(objDir));
        return command.WithEnvironment([new("MAKEOBJDIRPREFIX", objDir)]);
    }

    private static void RequireAbsolute(string path, string name)
    {
        ArgumentNullException.ThrowIfNull(path, name);
        if (!path.StartsWith('/'))
        {
            throw new ArgumentException($"'{path}' is not an absolute path.", name);
        }
    }
}
