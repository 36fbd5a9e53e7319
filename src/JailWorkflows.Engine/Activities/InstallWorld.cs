using System.Text;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Installs the built world into the jail root: <c>make installworld DESTDIR=&lt;jail root&gt;</c> (build(7)).
/// Refused while the jail runs and when no finished world (stamp) exists. First the jail's passwd and group are
/// pre-merged as <c>mergemaster -p</c> does it (mergemaster(8)): the users and groups of the new world that the jail
/// lacks are added (installworld checks them), nothing the jail has is changed, then <c>pwd_mkdb -d</c> rebuilds the
/// jail's databases (pwd_mkdb(8)). installworld is idempotent, so a rerun repairs a half-finished install; a marker
/// holding the world stamp makes a finished one a no-op.
/// </summary>
public sealed class InstallWorld(ActivityServices services) : Activity(services)
{
    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var world = await WorldInfo.ReadAsync(run).ConfigureAwait(false);
        var host = await run.JailHostAsync().ConfigureAwait(false);
        var marker = run.JailStateDir + "/installworld.done";
        if (run.State.JobId is null)
        {
            var stamp = await host.ReadFileAsync(world.StampPath, run.CancellationToken).ConfigureAwait(false);
            if (stamp != world.Stamp)
            {
                throw run.Fail($"no finished world in {world.ObjDir} (stamp missing or stale): run BuildWorld first; an unfinished world is never installed");
            }

            if (await host.ReadFileAsync(marker, run.CancellationToken).ConfigureAwait(false) == world.Stamp)
            {
                await run.JournalAsync(JournalEntryKind.Info, $"world {world.Release} already installed in {run.JailRoot}").ConfigureAwait(false);
                return ExecutionResult.Next();
            }

            if ((await run.RunAsync(Jls.ForJail(run.Server.Jail.Name)).ConfigureAwait(false)).Succeeded)
            {
                throw run.Fail($"jail {run.Server.Jail.Name} is running: installworld into a running jail is refused; stop it first (jail -r {run.Server.Jail.Name}), then resume");
            }

            if (run.State.Phase.Length == 0)
            {
                await PreMergeAccountsAsync(run, world.SrcDir).ConfigureAwait(false);
                run.State.Phase = "install";
                return run.Checkpoint();
            }
        }

        var command = FreeBsd.Make.InstallWorld(world.SrcDir, run.JailRoot, world.ObjDir);
        var exit = await run.RunJobAsync($"{run.InstanceId}-{run.StepId}-a{run.State.Attempt}", command).ConfigureAwait(false);
        if (exit is null)
        {
            return run.Sleep();
        }

        if (exit != 0)
        {
            run.State.Attempt++;
            throw run.Fail($"installworld into {run.JailRoot} failed (exit {exit}); resume runs it again (installworld repairs a half-finished install)", retryable: true);
        }

        await host.WriteFileAsync(marker, Encoding.UTF8.GetBytes(world.Stamp), "0644", run.CancellationToken).ConfigureAwait(false);
        return ExecutionResult.Next();
    }

    /// <summary>
    /// <c>mergemaster -p -a</c> into a temproot outside the jail root, then the new world's master.passwd and group entries
    /// the jail lacks are added, then <c>pwd_mkdb -d &lt;root&gt;/etc -p &lt;root&gt;/etc/master.passwd</c>. Idempotent.
    /// </summary>
    private static async Task PreMergeAccountsAsync(ActivityRun run, string srcDir)
    {
        var host = await run.JailHostAsync().ConfigureAwait(false);
        var tempRoot = run.JailStateDir + "/temproot.preworld";
        // installworld writes through DESTDIR into these: none may lead out of the jail root.
        await run.RequireNoSymlinksAsync("etc/master.passwd", "etc/group", "bin", "sbin", "lib", "libexec", "rescue", "usr/bin", "usr/sbin", "usr/lib", "usr/libexec", "usr/share", "usr/include", "var").ConfigureAwait(false);
        await run.RunCheckedAsync(ShellCommand.Of("mkdir", "-p", run.JailStateDir).And(ShellCommand.Of("rm", "-rf", tempRoot))).ConfigureAwait(false);
        var mergemaster = await run.RunAsync(Mergemaster.PreWorld(srcDir, run.JailRoot, tempRoot)).ConfigureAwait(false);
        if (!mergemaster.Succeeded)
        {
            throw run.Fail($"mergemaster -p for {run.JailRoot} failed (exit {mergemaster.ExitStatus}): {(mergemaster.StdOut + mergemaster.StdErr).Trim()}", retryable: true);
        }

        var report = Mergemaster.ParseOutput(mergemaster.StdOut, tempRoot);
        var changed = false;
        foreach (var (file, kind, mode) in new[] { ("etc/master.passwd", PasswdFileKind.MasterPasswd, "0600"), ("etc/group", PasswdFileKind.Group, "0644") })
        {
            var template = await host.ReadFileAsync(report.TempRoot + "/" + file, run.CancellationToken).ConfigureAwait(false);
            if (template is null)
            {
                // mergemaster deleted it from the temproot: the jail's copy equals the new world's.
                continue;
            }

            var installed = await host.ReadFileAsync(run.JailRoot.Combine(file), run.CancellationToken).ConfigureAwait(false) ?? string.Empty;
            PasswdMerge merge;
            try
            {
                merge = PasswdFiles.AddMissing(installed, template, kind);
            }
            catch (FormatException ex)
            {
                throw run.Fail($"pre-merge of {run.JailRoot.Combine(file)}: {ex.Message}");
            }

            foreach (var conflict in merge.Conflicts)
            {
                await run.JournalAsync(JournalEntryKind.Warning, $"pre-merge {file}: not added, its id is taken: {conflict}; merge it by hand if installworld needs it").ConfigureAwait(false);
            }

            if (merge.Added.Count > 0)
            {
                await host.WriteFileAsync(run.JailRoot.Combine(file), Encoding.UTF8.GetBytes(merge.Text), mode, run.CancellationToken).ConfigureAwait(false);
                await run.JournalAsync(JournalEntryKind.Info, $"pre-merge {file} (mergemaster -p): added {string.Join(", ", merge.Added)}").ConfigureAwait(false);
                changed = true;
            }
            else
            {
                await run.JournalAsync(JournalEntryKind.Info, $"pre-merge {file} (mergemaster -p): the jail has every entry of the new world").ConfigureAwait(false);
            }
        }

        if (changed || !await run.ExistsAsync(run.JailRoot.Combine("etc/pwd.db")).ConfigureAwait(false))
        {
            await run.RunCheckedAsync(Mergemaster.PwdMkdb(run.JailRoot)).ConfigureAwait(false);
            await run.JournalAsync(JournalEntryKind.Info, $"pwd_mkdb -d {run.JailRoot.Combine("etc")} -p {run.JailRoot.Combine("etc/master.passwd")}").ConfigureAwait(false);
        }

        await run.RunCheckedAsync(ShellCommand.Of("rm", "-rf", report.TempRoot)).ConfigureAwait(false);
    }
}
