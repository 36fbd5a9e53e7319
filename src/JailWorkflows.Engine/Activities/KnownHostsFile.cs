using System.Text;
using JailWorkflows.FreeBsd;
using JailWorkflows.Shell;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// The known_hosts file the jail host's ssh(1) checks when it reaches the source servers (the transfer, and
/// Preflight's reachability check running the same command line): every source's pinned key from the plan,
/// nothing learned on the fly (DESIGN.md D3, D6). One file per jail, <c>&lt;jailHost.stateDir&gt;/jails/&lt;jail&gt;/known_hosts</c>,
/// with only that server's key: instances of other plans cannot overwrite it or make it trust their keys.
/// </summary>
internal static class KnownHostsFile
{
    /// <summary>The file's path on the jail host.</summary>
    public static string PathOf(Activity.ActivityRun run) => run.JailStateDir + "/known_hosts";

    /// <summary>The file's content for the run's plan.</summary>
    public static string Content(Activity.ActivityRun run) =>
        KnownHosts.Line(run.Server.Ssh.Address, run.Server.Ssh.Port, run.Server.Ssh.HostKey) + "\n";

    /// <summary>Writes the file (and the state directory) unless it already holds exactly this content; idempotent.</summary>
    /// <returns>The file's path.</returns>
    public static async Task<string> EnsureAsync(Activity.ActivityRun run)
    {
        var path = PathOf(run);
        var content = Content(run);
        var host = await run.JailHostAsync().ConfigureAwait(false);
        if (await host.ReadFileAsync(path, run.CancellationToken).ConfigureAwait(false) == content)
        {
            return path;
        }

        await run.RunCheckedAsync(ShellCommand.Of("mkdir", "-p", run.JailStateDir)).ConfigureAwait(false);
        await host.WriteFileAsync(path, Encoding.UTF8.GetBytes(content), "0644", run.CancellationToken).ConfigureAwait(false);
        return path;
    }
}
