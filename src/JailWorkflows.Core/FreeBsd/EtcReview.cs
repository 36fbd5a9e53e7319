using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// What of a merged <c>/etc</c> needs a person (FREEBSD.md, "Merging /etc"): the account files, the message of the day,
/// the mail configuration, and any file with conflict markers. A jail must not start while a file holds conflict markers.
/// </summary>
public static class EtcReview
{
    /// <summary>The start of a conflict marker line (diff3(1) <c>-m</c>, etcupdate(8), git): <c>&lt;&lt;&lt;&lt;&lt;&lt;&lt;</c>.</summary>
    public const string ConflictMarker = "<<<<<<<";

    /// <summary>
    /// Whether a file that mergemaster(8) left for consideration needs a person's approval before the jail goes on:
    /// <c>etc/master.passwd</c>, <c>etc/group</c>, <c>etc/motd</c> and anything under <c>etc/mail/</c>.
    /// </summary>
    /// <param name="relativePath">The path relative to the jail root, without a leading slash (<c>etc/group</c>).</param>
    /// <returns>True when a person must look at it.</returns>
    public static bool NeedsPerson(string relativePath)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        var path = relativePath.TrimStart('.', '/');
        return path is "etc/master.passwd" or "etc/group" or "etc/motd" || path.StartsWith("etc/mail/", StringComparison.Ordinal);
    }

    /// <summary>
    /// <c>grep -rlI -e '^&lt;&lt;&lt;&lt;&lt;&lt;&lt;' -- &lt;root&gt;/etc</c>: lists the text files under the jail's etc with a conflict
    /// marker at the start of a line (grep(1) exits 0 when it found some, 1 when none, 2 on errors; <c>-r</c> follows no
    /// symbolic links below the named directory). Read its output with <see cref="ParseConflictScan"/>.
    /// </summary>
    /// <param name="root">The jail root.</param>
    /// <returns>The command.</returns>
    public static ShellCommand ConflictScan(JailRoot root)
    {
        ArgumentNullException.ThrowIfNull(root);
        return ShellCommand.Of("grep", "-rlI", "-e", "^" + ConflictMarker, "--", root.Combine("etc"));
    }

    /// <summary>Reads <see cref="ConflictScan"/>'s output into paths relative to the jail root (<c>etc/rc.conf</c>), sorted.</summary>
    /// <param name="output">grep's standard output.</param>
    /// <param name="root">The jail root scanned.</param>
    /// <returns>The files with conflict markers.</returns>
    public static IReadOnlyList<string> ParseConflictScan(string output, JailRoot root)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(root);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.StartsWith(root.Path + "/", StringComparison.Ordinal) ? p[(root.Path.Length + 1)..] : p)
            .Order(StringComparer.Ordinal)
            .ToList();
    }
}

/// <summary>
/// The rc file mergemaster(8) reads from <c>$HOME/.mergemasterrc</c> (after <c>/etc/mergemaster.rc</c>). The product runs
/// mergemaster with HOME set to a directory of its own holding this file, so the host's own settings are untouched.
/// </summary>
public static class MergemasterRc
{
    /// <summary>
    /// The script mergemaster sources after it populated the temproot and changed into it, before comparing
    /// (<c>MM_PRE_COMPARE_SCRIPT</c>): removes <c>boot</c> from the temproot, because a jail needs no <c>/boot</c>
    /// (<c>make distribution</c> installs e.g. <c>boot/device.hints</c>, which <c>-i</c> would otherwise install into the jail).
    /// </summary>
    public const string DropBootScript =
        "# jailwf: a jail needs no /boot; sourced by mergemaster(8) in the temproot before comparing\n" +
        "case \"${TEMPROOT}\" in\n" +
        "/?*)\n" +
        "  if [ -d \"${TEMPROOT}/boot\" ]; then\n" +
        "    rm -rf \"${TEMPROOT}/boot\"\n" +
        "    echo \"*** jailwf: boot removed from ${TEMPROOT} (a jail needs no /boot)\"\n" +
        "  fi\n" +
        "  ;;\n" +
        "esac\n";

    /// <summary>The <c>.mergemasterrc</c> text: <c>MM_PRE_COMPARE_SCRIPT='&lt;script&gt;'</c>.</summary>
    /// <param name="preCompareScript">Absolute path of the script (e.g. one holding <see cref="DropBootScript"/>).</param>
    /// <returns>The file's text.</returns>
    /// <exception cref="ArgumentException">The path is not absolute.</exception>
    public static string Render(string preCompareScript)
    {
        ArgumentNullException.ThrowIfNull(preCompareScript);
        if (!preCompareScript.StartsWith('/'))
        {
            throw new ArgumentException($"'{preCompareScript}' is not an absolute path.", nameof(preCompareScript));
        }

        return "# written by jailwf for its mergemaster runs (mergemaster(8), .mergemasterrc)\n" +
            "MM_PRE_COMPARE_SCRIPT=" + ShellQuote.Quote(preCompareScript) + "\n";
    }
}

/// <summary>etcupdate(8) against a jail root.</summary>
public static class Etcupdate
{
    /// <summary>
    /// <c>etcupdate extract -s &lt;src&gt; -d &lt;root&gt;/var/db/etcupdate -D &lt;root&gt;</c>: stores the new world's etc tree as the
    /// jail's baseline (<c>&lt;workdir&gt;/current</c>), so later upgrades of the jail can use etcupdate's three-way merge. The
    /// work directory is named explicitly inside the jail (etcupdate(8): its default is the host's <c>/var/db/etcupdate</c>).
    /// </summary>
    /// <param name="srcDir">The source tree the world was built from.</param>
    /// <param name="root">The jail root.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException"><paramref name="srcDir"/> is not absolute.</exception>
    public static ShellCommand Extract(string srcDir, JailRoot root)
    {
        ArgumentNullException.ThrowIfNull(srcDir);
        ArgumentNullException.ThrowIfNull(root);
        if (!srcDir.StartsWith('/'))
        {
            throw new ArgumentException($"'{srcDir}' is not an absolute path.", nameof(srcDir));
        }

        return ShellCommand.Of("etcupdate", "extract", "-s", srcDir, "-d", root.Combine("var/db/etcupdate"), "-D", root.Path);
    }
}
