using System.Text.RegularExpressions;
using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// rc.d scripts of a source server (rc(8), rc.subr(8); on 4.x the <c>/usr/local/etc/rc.d/*.sh</c> scripts of
/// <c>local_startup</c>), as the cutover stops the services of a live source before its level-1 delta.
/// </summary>
public static partial class RcScripts
{
    /// <summary>
    /// <c>sh &lt;script&gt; stop</c>: stops one service by its rc script, to run on the source server (over ssh). A 4.x
    /// <c>local_startup</c> script (<c>/usr/local/etc/rc.d/apache.sh</c>) and an rc.subr script (<c>/etc/rc.d/sshd</c>,
    /// <c>/usr/local/etc/rc.d/nginx</c>) both take <c>stop</c>; stopping a service that does not run is harmless (the
    /// script finds no pid file or process), so the command can be repeated.
    /// </summary>
    /// <param name="scriptPath">The script's absolute path on the source, e.g. <c>/usr/local/etc/rc.d/apache.sh</c>.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">The path is not an absolute path of safe characters below an rc.d directory.</exception>
    public static ShellCommand Stop(string scriptPath)
    {
        ArgumentNullException.ThrowIfNull(scriptPath);
        if (!ScriptPath().IsMatch(scriptPath) || scriptPath.Split('/').Any(c => c is "." or ".."))
        {
            throw new ArgumentException($"'{scriptPath}' is not the absolute path of an rc.d script.", nameof(scriptPath));
        }

        return ShellCommand.Of("sh", scriptPath, "stop");
    }

    /// <summary>
    /// The source server's path of a script found in a copy of the source's tree (a jail root): the part after the jail root.
    /// </summary>
    /// <param name="root">The jail root holding the copy.</param>
    /// <param name="pathInRoot">An absolute path below the jail root (e.g. from <see cref="JailServices.ScriptCandidates"/>).</param>
    /// <returns>The path on the source, e.g. <c>/usr/local/etc/rc.d/apache.sh</c>.</returns>
    /// <exception cref="ArgumentException">The path is not below the jail root.</exception>
    public static string SourcePath(JailRoot root, string pathInRoot)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(pathInRoot);
        if (!pathInRoot.StartsWith(root.Path + "/", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{pathInRoot}' is not below the jail root {root}.", nameof(pathInRoot));
        }

        return pathInRoot[root.Path.Length..];
    }

    [GeneratedRegex(@"^(?:/[A-Za-z0-9_.+,@%=-]+)*/rc\.d/[A-Za-z_][A-Za-z0-9_]*(?:\.sh)?$")]
    private static partial Regex ScriptPath();
}
