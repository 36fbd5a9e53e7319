using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Builds the world once on the jail host: <c>make -j&lt;N&gt; buildworld</c> in the src directory with
/// MAKEOBJDIRPREFIX set to the objdir (build(7)). A world stamp (src release and options) is written only
/// after the build finished, so a finished world is reused by every later consolidation and an unfinished
/// one is never installed. A retry after a failed build resumes with NO_CLEAN instead of starting over.
/// </summary>
/// <remarks>
/// The host job's id depends on the jail host's src and obj directories, not on the instance: several
/// consolidations running at once attach to the same build instead of starting one each.
/// </remarks>
public sealed class BuildWorld(ActivityServices services) : Activity(services)
{
    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var world = await WorldInfo.ReadAsync(run).ConfigureAwait(false);
        var host = await run.JailHostAsync().ConfigureAwait(false);
        if (run.State.JobId is null)
        {
            var stamp = await host.ReadFileAsync(world.StampPath, run.CancellationToken).ConfigureAwait(false);
            if (stamp == world.Stamp)
            {
                await run.JournalAsync(JournalEntryKind.Info, $"world {world.Release} already built in {world.ObjDir}; reused").ConfigureAwait(false);
                return ExecutionResult.Next();
            }

            // Attach to the newest build of this world on the host (another instance may run it), or go on from ours.
            run.State.Attempt = Math.Max(run.State.Attempt, await NewestAttemptAsync(run, world.JobPrefix).ConfigureAwait(false));
            if (!run.State.Values.ContainsKey("jobs"))
            {
                var jobs = run.JailHostSpec.BuildJobs > 0
                    ? run.JailHostSpec.BuildJobs
                    : int.Parse((await run.RunCheckedAsync(ShellCommand.Of("sysctl", "-n", "hw.ncpu")).ConfigureAwait(false)).Trim(), CultureInfo.InvariantCulture);
                run.State.Values["jobs"] = jobs.ToString(CultureInfo.InvariantCulture);
            }
        }

        var jobId = $"{world.JobPrefix}{run.State.Attempt}";
        var resume = run.State.Attempt > 0;
        var command = Make.BuildWorld(world.SrcDir, int.Parse(run.State.Values["jobs"], CultureInfo.InvariantCulture), world.Release, resume, world.ObjDir);
        var exit = await run.RunJobAsync(jobId, command).ConfigureAwait(false);
        if (exit is null)
        {
            return run.Sleep();
        }

        if (exit != 0)
        {
            run.State.Attempt++;
            throw run.Fail($"buildworld in {world.SrcDir} on {run.JailHostSpec.Name} failed (exit {exit}); resume continues it with NO_CLEAN, keeping what was built");
        }

        await host.WriteFileAsync(world.StampPath, Encoding.UTF8.GetBytes(world.Stamp), "0644", run.CancellationToken).ConfigureAwait(false);
        await run.JournalAsync(JournalEntryKind.Info, $"world {world.Release} built; stamp written to {world.StampPath}").ConfigureAwait(false);
        return ExecutionResult.Next();
    }

    private static async Task<int> NewestAttemptAsync(ActivityRun run, string prefix)
    {
        var result = await run.RunAsync(ShellCommand.Of("ls", "-1", run.JailHostSpec.JobsDir)).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return 0;
        }

        return result.StdOut.Split('\n', StringSplitOptions.TrimEntries)
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => int.TryParse(n.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var a) ? a : 0)
            .DefaultIfEmpty(0)
            .Max();
    }
}

/// <summary>The world of a jail host: where it is built, its release and the stamp that says it is finished.</summary>
/// <param name="SrcDir">The src directory.</param>
/// <param name="ObjDir">MAKEOBJDIRPREFIX.</param>
/// <param name="Release">The src tree's release (from <c>sys/conf/newvers.sh</c>).</param>
/// <param name="Stamp">The stamp's expected content.</param>
/// <param name="StampPath">Where the stamp is kept.</param>
/// <param name="JobPrefix">The prefix of buildworld host job ids for this world.</param>
internal sealed record WorldInfo(string SrcDir, string ObjDir, FreeBsdRelease Release, string Stamp, string StampPath, string JobPrefix)
{
    public static async Task<WorldInfo> ReadAsync(Activity.ActivityRun run)
    {
        var src = JailRoot.ValidateDirectory(run.JailHostSpec.SrcDir, "jailHost.srcDir");
        var obj = JailRoot.ValidateDirectory(run.JailHostSpec.ObjDir, "jailHost.objDir");
        var newvers = await run.RunCheckedAsync(Make.ReadNewvers(src)).ConfigureAwait(false);
        var release = Make.ParseNewvers(newvers);
        // The tree's revision where it is a git checkout (FreeBSD's src since 13.0): an updated tree is another
        // world, with its own stamp and its own build jobs; a tree without one is known by newvers.sh alone.
        var revision = (await run.RunCheckedAsync(
            ShellCommand.Of("git", "-C", src, "rev-parse", "HEAD").RedirectTo("/dev/null", fd: 2)
                .Or(ShellCommand.Of("echo", "none"))).ConfigureAwait(false)).Trim();
        var stamp = $"src={src}\nrelease={release}\nrevision={revision}\nnewvers-sha256={Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(newvers)))}\n";
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(src + "\n" + obj + "\n" + stamp)))[..12];
        return new WorldInfo(src, obj, release, stamp, obj + "/.jailwf-world-stamp", $"world-{key}-a");
    }
}
