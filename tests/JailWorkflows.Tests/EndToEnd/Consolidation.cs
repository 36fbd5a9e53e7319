using System.Security.Cryptography;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Plans;
using JailWorkflows.Tests.Lab;
using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.EndToEnd;

/// <summary>
/// A consolidation setting on the lab: the lab's plan with its own jails, obj, jobs and state directories
/// (and its own copy of the src tree) so several runs on one lab do not share anything but the hosts.
/// </summary>
internal sealed class Consolidation
{
    private Consolidation(string name, Plan plan, string directory)
    {
        Name = name;
        Plan = plan;
        Directory = directory;
    }

    public string Name { get; }

    public Plan Plan { get; }

    public string Directory { get; }

    public string PlanFile => Path.Combine(Directory, "plan.yaml");

    public string Database => Path.Combine(Directory, "jailwf.db");

    public static Consolidation Create(LabFixture lab, string name, string server, string jailName, string jailIp, double? buildStageSeconds = null, bool cutover = false)
    {
        var dir = Path.Combine(lab.Info.JailHost.Directory, "e2e", name);
        if (System.IO.Directory.Exists(dir))
        {
            Local.RunAsync("chattr", ["-R", "-i", dir]).GetAwaiter().GetResult();
            System.IO.Directory.Delete(dir, recursive: true);
        }

        System.IO.Directory.CreateDirectory(dir);
        string? src = null;
        if (buildStageSeconds is { } seconds)
        {
            src = Path.Combine(dir, "src");
            var copy = Local.RunAsync("cp", ["-a", lab.Info.JailHost.SrcDir, src]).GetAwaiter().GetResult();
            Assert.True(copy.ExitCode == 0, copy.ToString());
            File.WriteAllText(Path.Combine(src, "lab.conf"), FormattableString.Invariant($"LAB_STAGE_SECONDS={seconds}\n"));
        }

        var own = lab.Info.ToPlan(dir, src);
        var source = own.Server(server);
        var plan = own with { Servers = [source with { Jail = source.Jail with { Name = jailName, Ip = jailIp }, Cutover = cutover }] };
        var consolidation = new Consolidation(name, plan, dir);
        File.WriteAllText(consolidation.PlanFile, PlanWriter.ToYaml(plan));
        return consolidation;
    }

    public string JailRoot => Path.Combine(Plan.JailHost.JailsDir, Plan.Servers[0].Jail.Name);

    public string[] RunArgs => ["run", "consolidate-server", "--plan", PlanFile, "--db", Database, "--poll", "0.3"];

    public string[] ResumeArgs(string instance) => ["resume", instance, "--db", Database, "--poll", "0.3"];

    public string[] ApproveArgs(string instance) => ["approve", instance, "--reason", "e2e: the lab server's accounts, motd and mail aliases are kept", "--db", Database, "--poll", "0.3"];

    /// <summary>
    /// Waits for a jailwf process; each time it stopped because the instance waits for an approval (exit 4: the cutover's
    /// downtime, the /etc files), approves as an admin would and follows the instance on. Returns the last exit code.
    /// </summary>
    public async Task<(int Exit, string StdOut, string StdErr)> FinishAsync(Jailwf process, TimeSpan timeout)
    {
        var result = (Exit: await process.WaitAsync(timeout), process.StdOut, process.StdErr);
        for (var approvals = 0; result.Exit == 4 && approvals < 3; approvals++)
        {
            var instance = (await InstanceAsync())!.Id;
            result = await Jailwf.RunAsync(timeout, ApproveArgs(instance));
        }

        return result;
    }

    /// <summary>Runs jailwf with <paramref name="args"/> and, through an approval if one is asked for, to the end.</summary>
    public async Task<(int Exit, string StdOut, string StdErr)> RunToEndAsync(TimeSpan timeout, params string[] args)
    {
        using var process = Jailwf.Start(args);
        return await FinishAsync(process, timeout);
    }

    /// <summary>Stops the jail through the lab's jail(8) shim, if it runs.</summary>
    public async Task StopJailAsync()
    {
        var jail = Plan.Servers[0].Jail.Name;
        var conf = Path.Combine(Plan.JailHost.JailConfDir, jail + ".conf");
        if (File.Exists(conf))
        {
            await LabSsh.RunAsync(Plan.JailHost.Ssh!, JailWorkflows.FreeBsd.Jail.Remove(conf, jail));
        }
    }

    public async Task<IReadOnlyList<JournalEntry>> JournalAsync(string instance)
    {
        var (queries, owner) = InstanceQueries.Open(Database);
        await using (owner)
        {
            return await queries.JournalAsync(instance, 0, 100_000);
        }
    }

    /// <summary>The one instance in the database, or null before it exists.</summary>
    public async Task<InstanceView?> InstanceAsync() => (await InstancesAsync()).SingleOrDefault();

    /// <summary>Every instance in the database, newest first (none while the engine is still creating it).</summary>
    public async Task<IReadOnlyList<InstanceView>> InstancesAsync()
    {
        if (!File.Exists(Database))
        {
            return [];
        }

        IAsyncDisposable owner;
        InstanceQueries queries;
        try
        {
            (queries, owner) = InstanceQueries.Open(Database);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.Data.Common.DbException)
        {
            return []; // the engine is still creating the database and its schema
        }

        await using (owner)
        {
            return await queries.ListAsync();
        }
    }

    /// <summary>Waits until a host job whose id contains <paramref name="part"/> was started and <paramref name="andThen"/> holds; fails early when jailwf exits. Returns the job id.</summary>
    public async Task<string> WaitForJobAsync(string instance, string part, Jailwf process, Func<Task<bool>>? andThen = null)
    {
        string? job = null;
        await Wait.UntilAsync(
            async () =>
            {
                if (process.HasExited)
                {
                    var exit = await process.WaitAsync(TimeSpan.FromSeconds(10)); // drains its output
                    throw new InvalidOperationException($"jailwf exited {exit} before host job '{part}' started:\n{process.StdOut}\n{process.StdErr}");
                }

                job ??= (await JournalAsync(instance)).FirstOrDefault(e => e.Kind == JournalEntryKind.JobStarted && e.JobId!.Contains(part, StringComparison.Ordinal))?.JobId;
                return job is not null && (andThen is null || await andThen());
            },
            TimeSpan.FromMinutes(3),
            $"host job '{part}' to start");
        return job!;
    }

    /// <summary>
    /// The jail tree as comparable lines: path, type, mode, size and content hash (link target for
    /// symlinks), leaving out what a running jail writes (var/run, var/log, tmp) and dev.
    /// </summary>
    public static SortedSet<string> Tree(string root)
    {
        var lines = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var entry in new DirectoryInfo(root).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false }))
        {
            var relative = Path.GetRelativePath(root, entry.FullName);
            if (relative.StartsWith("var/run", StringComparison.Ordinal) || relative.StartsWith("var/log", StringComparison.Ordinal)
                || relative.StartsWith("tmp/", StringComparison.Ordinal) || relative.StartsWith("dev/", StringComparison.Ordinal))
            {
                continue;
            }

            if (entry.LinkTarget is { } target)
            {
                lines.Add($"{relative} -> {target}");
                continue;
            }

            var mode = (int)entry.UnixFileMode;
            if (entry is FileInfo file)
            {
                using var stream = file.OpenRead();
                lines.Add($"{relative} f {Convert.ToString(mode, 8)} {file.Length} {Convert.ToHexString(SHA256.HashData(stream))}");
            }
            else
            {
                lines.Add($"{relative} d {Convert.ToString(mode, 8)}");
            }
        }

        return lines;
    }
}
