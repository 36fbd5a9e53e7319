using System.Globalization;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Lab;

namespace JailWorkflows.Bench.Figures;

/// <summary>
/// Issue 7, figure 4: what a resume saves. (a) A transfer broken at 90% of its last partition (the restore on the jail
/// host killed) and finished by the engine's own retry: the bytes sent again, against a restart from scratch (every
/// partition, measured by an uninterrupted run in the same figure). (b) A lab buildworld killed at 80% (its host job's
/// whole process group) and resumed with <c>jailwf retry</c> (NO_CLEAN), against a clean build measured in the same run.
/// </summary>
internal sealed class ResumeFigure : Figure
{
    private const string LabDirectory = "/var/tmp/jailwf-lab-bench-resume";
    private const string Server = "ServerB";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(10);

    /// <inheritdoc />
    public override string Name => "resume";

    /// <inheritdoc />
    public override string Title => "Resume savings";

    /// <inheritdoc />
    public override bool NeedsLab => true;

    /// <inheritdoc />
    public override async Task<FigureReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var stageSeconds = context.Quick ? 0.5 : 2;
        await using var lab = await BenchLab.UpAsync(context, new LabOptions { Directory = LabDirectory, BuildStageSeconds = 0.1 }, cancellationToken).ConfigureAwait(false);
        var transfer = await TransferAsync(context, lab.Info, cancellationToken).ConfigureAwait(false);
        var build = await BuildAsync(context, lab.Info, stageSeconds, cancellationToken).ConfigureAwait(false);

        var last = transfer.Partitions[^1];
        var resent = transfer.ResentBytes;
        var onlyLast = transfer.StartedAfterCut.Count == 1 && transfer.StartedAfterCut[0].Contains($"-transfer-p{transfer.Partitions.Count - 1}-", StringComparison.Ordinal);
        var ratio = build.Resumed.TotalSeconds / build.Clean.TotalSeconds;
        var measurements = new List<Measurement>
        {
            new(F($"bytes sent again after a transfer broke at {transfer.CutFraction:P0} of its last partition ({last.MountPoint})"),
                F($"{Kib(resent)} (a new dump of {last.MountPoint} only)"),
                F($"a restart from scratch: {Kib(transfer.ScratchBytes)} ({string.Join(" + ", transfer.Partitions.Select(p => $"{p.MountPoint} {Kib(p.Bytes)}"))}); ours = {(double)resent / transfer.ScratchBytes:0.00}x"),
                "only the interrupted partition is sent again",
                onlyLast && resent == last.Bytes),
            new(F($"buildworld killed at {build.KilledAt:P0} and resumed (NO_CLEAN): the resumed build's time"),
                F($"{build.Resumed.TotalSeconds:0.00} s = {ratio:P0} of a clean build"),
                F($"clean build: {build.Clean.TotalSeconds:0.00} s (7 stages of {stageSeconds:0.#} s)"),
                "<= 30% of a clean build",
                ratio <= 0.30),
        };
        var notes = new List<string>();
        if (!onlyLast)
        {
            notes.Add($"Host jobs started after the break: {string.Join(", ", transfer.StartedAfterCut)}.");
        }

        if (ratio > 0.30)
        {
            notes.Add(F($"The lab's world is built in 7 stages (each a {stageSeconds:0.#} s sleep plus its work) and a stage is the unit NO_CLEAN keeps: the build killed at {build.KilledAt:P0} had finished {build.StagesDone}, so the resumed build redid {7 - build.StagesDone} (the last, 'building everything', also carries most of the lab build's own work: the userland's links), plus make's start. A real buildworld's NO_CLEAN keeps finished objects at a much finer grain."));
        }

        var method = F($"""
            One lab of its own ({Server}: `/`, `/usr`, `/var` on ext4 images on loop devices; jail host on 127.0.10.1), every run through `jailwf` as its own process (`--poll 0.3`, each step retrying after 1 s). **(a)** First an uninterrupted `jailwf run` of a one-step definition (TransferPartitions) gives each partition's dump size (dump's `N blocks` line in the journal): a restart from scratch sends all of them again. Then a second run in a fresh bed, with the lab's `LAB_DUMP_PAUSE` knob holding the dump of `{transfer.Partitions[^1].MountPoint}` after {transfer.CutFraction:P0} of its size: once restore on the jail host has read that much (`rchar` in /proc/<pid>/io of restore), restore is killed (SIGKILL), the knob cleared, and the engine's own retry finishes the step. Bytes sent again are those of the host jobs started after the break (their dumps' sizes). **(b)** The lab's buildworld (7 stages of {stageSeconds:0.#} s, `LAB_STAGE_SECONDS` in the bed's own copy of the src tree) built clean by `jailwf run` of a BuildWorld step; then in a fresh bed (own src copy and objdir) every process of the build's host job is killed (one SIGKILL to daemon(8)'s supervisor, the job's shell and all their descendants: the job's whole session, as HostJobs.KillAsync kills it and as a crash of the jail host would end them) once it ran for 80% of the clean build's time, and `jailwf retry` resumes it (a new attempt with `-DNO_CLEAN`, finished stages kept). Times are the host jobs' own (their `script` to their `exit` file on the jail host), so the engine's poll interval counts in neither.
            """);
        return new FigureReport(measurements, method, notes);
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Kib(long bytes) => bytes >= 4 * 1048576
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.0} MiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0} KiB");

    private static async Task<TransferResult> TransferAsync(BenchContext context, LabInfo lab, CancellationToken ct)
    {
        (string Id, (string, string)[])[] definition = [("transfer-only", [("transfer", "TransferPartitions")])];

        // From scratch: every partition, uninterrupted.
        var clean = await LabBed.CreateAsync(lab, "resume-scratch", Server, "127.0.20.202", null, null, definition).ConfigureAwait(false);
        context.Progress($"transfer of {Server} from scratch");
        var (exit, output) = await EngineProcess.RunAsync(RunTimeout, ct, clean.RunArgs("transfer-only")).ConfigureAwait(false);
        var cleanJournal = await JournalOfAsync(clean, exit, output).ConfigureAwait(false);
        var mounts = clean.Plan.Servers[0].Partitions.Select(p => p.MountPoint).ToList();
        var partitions = mounts.Select((m, i) => new PartitionBytes(m, DumpBytes(cleanJournal, Journals.Started(cleanJournal).Single(j => j.Contains($"-transfer-p{i}-", StringComparison.Ordinal))))).ToList();
        await clean.RemoveAsync().ConfigureAwait(false);
        context.Progress($"from scratch: {string.Join(", ", partitions.Select(p => $"{p.MountPoint} {p.Bytes} bytes"))}");

        // Broken at 90% of the last partition: the dump holds there (lab knob) until restore is killed.
        const double cutFraction = 0.9;
        var last = partitions[^1];
        var pauseKiB = (long)(last.Bytes / 1024 * cutFraction);
        var knob = Path.Combine(lab.Server(Server).Directory, "etc", "lab.conf");
        var bed = await LabBed.CreateAsync(lab, "resume-cut", Server, "127.0.20.203", null, null, definition).ConfigureAwait(false);
        await File.WriteAllTextAsync(knob, F($"LAB_DUMP_PAUSE={last.MountPoint}\nLAB_DUMP_PAUSE_AFTER_KB={pauseKiB}\n"), ct).ConfigureAwait(false);
        long lostBytes;
        IReadOnlyList<JournalEntry> journal;
        string cutJob;
        try
        {
            context.Progress($"transfer of {Server} broken at {cutFraction:P0} of {last.MountPoint} ({pauseKiB} KiB)");
            using var engine = EngineProcess.Start(bed.RunArgs("transfer-only"));
            var instance = (await Local.UntilAsync(bed.InstanceAsync, TimeSpan.FromMinutes(1), "the instance", ct).ConfigureAwait(false)).Id;
            cutJob = await Local.UntilAsync(
                async () => engine.HasExited ? throw new InvalidOperationException($"jailwf ended early:\n{engine.Output}")
                    : Journals.Started(await bed.JournalAsync(instance).ConfigureAwait(false)).FirstOrDefault(j => j.Contains($"-transfer-p{partitions.Count - 1}-", StringComparison.Ordinal)),
                TimeSpan.FromMinutes(5), $"the transfer of {last.MountPoint}", ct).ConfigureAwait(false);
            int restore = (await Local.UntilAsync(
                () => Task.FromResult(File.Exists(Path.Combine(bed.JobsDir, cutJob, "pgid")) ? Procs.OfGroup(bed.JobGroup(cutJob)).Where(p => p.Name == "restore").Select(p => (int?)p.Pid).FirstOrDefault() : null),
                TimeSpan.FromMinutes(1), "restore of the last partition", ct).ConfigureAwait(false))!.Value;
            lostBytes = (await Local.UntilAsync(
                () => Task.FromResult(Procs.ReadBytes(restore) is { } read && read >= pauseKiB * 1024 * 99 / 100 ? read : (long?)null),
                TimeSpan.FromMinutes(2), $"restore to read {pauseKiB} KiB", ct).ConfigureAwait(false))!.Value;
            await Local.KillAsync(restore).ConfigureAwait(false);
            File.Delete(knob);
            var cutAt = (await bed.JournalAsync(instance).ConfigureAwait(false)).Max(e => e.Id);
            exit = await engine.WaitAsync(RunTimeout, ct).ConfigureAwait(false);
            journal = await JournalOfAsync(bed, exit, engine.Output).ConfigureAwait(false);
            var after = Journals.Started(journal.Where(e => e.Id > cutAt).ToList());
            var resent = after.Sum(j => DumpBytes(journal, j));
            context.Progress($"broken run: restore had read {lostBytes} bytes (rchar) when killed; started after: {string.Join(", ", after)} ({resent} bytes)");
            return new TransferResult(partitions, cutFraction, after, resent, partitions.Sum(p => p.Bytes));
        }
        finally
        {
            File.Delete(knob);
            await bed.RemoveAsync().ConfigureAwait(false);
        }
    }

    private static async Task<BuildResult> BuildAsync(BenchContext context, LabInfo lab, double stageSeconds, CancellationToken ct)
    {
        (string Id, (string, string)[])[] definition = [("build-only", [("buildworld", "BuildWorld")])];
        var clean = await LabBed.CreateAsync(lab, "resume-build-clean", Server, "127.0.20.204", null, stageSeconds, definition).ConfigureAwait(false);
        context.Progress("clean buildworld");
        var (exit, output) = await EngineProcess.RunAsync(RunTimeout, ct, clean.RunArgs("build-only")).ConfigureAwait(false);
        var cleanJournal = await JournalOfAsync(clean, exit, output).ConfigureAwait(false);
        var cleanTime = clean.HostJobTime(Journals.Started(cleanJournal).Single());
        await clean.RemoveAsync().ConfigureAwait(false);
        context.Progress(F($"clean buildworld: {cleanTime.TotalSeconds:0.00} s"));

        const double killAt = 0.8;
        var bed = await LabBed.CreateAsync(lab, "resume-build-cut", Server, "127.0.20.205", null, stageSeconds, definition).ConfigureAwait(false);
        try
        {
            string instance;
            double killedAfter;
            using (var engine = EngineProcess.Start(bed.RunArgs("build-only")))
            {
                instance = (await Local.UntilAsync(bed.InstanceAsync, TimeSpan.FromMinutes(1), "the instance", ct).ConfigureAwait(false)).Id;
                var job = await Local.UntilAsync(
                    async () => engine.HasExited ? throw new InvalidOperationException($"jailwf ended early:\n{engine.Output}")
                        : Journals.Started(await bed.JournalAsync(instance).ConfigureAwait(false)).FirstOrDefault(),
                    TimeSpan.FromMinutes(2), "the build's host job", ct).ConfigureAwait(false);
                var script = Path.Combine(bed.JobsDir, job, "script");
                var pgid = Path.Combine(bed.JobsDir, job, "pgid");
                await Local.UntilAsync(
                    () => Task.FromResult(File.Exists(pgid) && DateTime.UtcNow - File.GetLastWriteTimeUtc(script) >= killAt * cleanTime),
                    TimeSpan.FromMinutes(5), "80% of a clean build's time", ct).ConfigureAwait(false);
                // As a crash of the jail host ends it: every process of the job at once (daemon(8)'s supervisor, the job's
                // shell and all their descendants). Its process group alone is not enough: make -j (bmake) runs each job
                // in a process group of its own, which would build on.
                var pid = int.Parse(File.ReadAllText(Path.Combine(bed.JobsDir, job, "pid")).Trim(), CultureInfo.InvariantCulture);
                var tree = Procs.Tree(Procs.Parent(pid) is { } supervisor and > 1 ? supervisor : pid);
                await Local.CheckedAsync("kill", ["-KILL", "--", .. tree.Select(p => p.ToString(CultureInfo.InvariantCulture))]).ConfigureAwait(false);
                await Local.UntilAsync(() => Task.FromResult(tree.All(p => Procs.Parent(p) is null)), TimeSpan.FromSeconds(20), "the build's processes to end", ct).ConfigureAwait(false);
                if (File.Exists(Path.Combine(bed.JobsDir, job, "exit")))
                {
                    throw new InvalidOperationException($"host job {job} wrote an exit status although every process of it was killed at once");
                }

                killedAfter = (DateTime.UtcNow - File.GetLastWriteTimeUtc(script)) / cleanTime;
                context.Progress(F($"build's host job {job} killed at {killedAfter:P0} of a clean build's time"));
                exit = await engine.WaitAsync(RunTimeout, ct).ConfigureAwait(false);
                if (exit == 0)
                {
                    throw new InvalidOperationException($"jailwf finished a build whose host job was killed:\n{engine.Output}");
                }
            }

            var stagesDone = Directory.Exists(Path.Combine(bed.Plan.JailHost.ObjDir)) ? Directory.EnumerateFiles(bed.Plan.JailHost.ObjDir, "stage.*", SearchOption.AllDirectories).Count() : 0;
            (exit, output) = await EngineProcess.RunAsync(RunTimeout, ct, bed.RetryArgs(instance, "bench: the jail host is back; resume the build")).ConfigureAwait(false);
            var journal = await JournalOfAsync(bed, exit, output).ConfigureAwait(false);
            var resumedJob = Journals.Started(journal)[^1];
            var resumed = bed.HostJobTime(resumedJob);
            if (!journal.Any(e => e.Kind == JournalEntryKind.JobOutput && e.JobId == resumedJob && e.Message.Contains("World build completed", StringComparison.Ordinal)))
            {
                throw new InvalidOperationException($"the resumed build did not complete:\n{Journals.Describe(journal)}");
            }

            context.Progress(F($"resumed buildworld ({resumedJob}, {stagesDone} stages kept): {resumed.TotalSeconds:0.00} s"));
            return new BuildResult(cleanTime, resumed, killedAfter, stagesDone);
        }
        finally
        {
            await bed.RemoveAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The journal of the bed's one instance after a run that must have ended with exit 0.</summary>
    private static async Task<IReadOnlyList<JournalEntry>> JournalOfAsync(LabBed bed, int exit, string output)
    {
        var instance = (await bed.InstanceAsync().ConfigureAwait(false)) ?? throw new InvalidOperationException($"jailwf made no instance:\n{output}");
        var journal = await bed.JournalAsync(instance.Id).ConfigureAwait(false);
        return exit == 0 ? journal : throw new InvalidOperationException($"jailwf exited {exit}:\n{output}\n{Journals.Describe(journal)}");
    }

    /// <summary>The bytes a transfer job's dump wrote (its last <c>N blocks</c> line, 1 KiB blocks).</summary>
    private static long DumpBytes(IReadOnlyList<JournalEntry> journal, string job) =>
        (journal.Where(e => e.Kind == JournalEntryKind.JobOutput && e.JobId == job).Select(e => Dump.ParseStderrLine(e.Message))
            .LastOrDefault(l => l.Kind == DumpLineKind.BlocksWritten)?.Blocks ?? throw new InvalidOperationException($"host job {job}: dump printed no 'N blocks' line"))
        * Dump.BlockSize;

    private sealed record PartitionBytes(string MountPoint, long Bytes);

    private sealed record TransferResult(IReadOnlyList<PartitionBytes> Partitions, double CutFraction, IReadOnlyList<string> StartedAfterCut, long ResentBytes, long ScratchBytes);

    private sealed record BuildResult(TimeSpan Clean, TimeSpan Resumed, double KilledAt, int StagesDone);
}

/// <summary>Processes read from /proc.</summary>
internal static class Procs
{
    /// <summary>The live processes of process group <paramref name="group"/>: pid and name (comm).</summary>
    public static List<(int Pid, string Name)> OfGroup(int group) => Where(2, group);

    /// <summary>The parent of a live process; null once it ended.</summary>
    public static int? Parent(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[0] == "Z" ? null : int.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary><paramref name="root"/> and every live process descended from it (whatever their process groups).</summary>
    public static List<int> Tree(int root)
    {
        var children = Where(-1, 0).Select(p => (p.Pid, Parent: Parent(p.Pid))).Where(p => p.Parent is not null).ToLookup(p => p.Parent!.Value, p => p.Pid);
        var result = new List<int> { root };
        for (var i = 0; i < result.Count; i++)
        {
            result.AddRange(children[result[i]]);
        }

        return result;
    }

    /// <summary>Live processes whose /proc/&lt;pid&gt;/stat field (counted after the comm: 0 state, 1 ppid, 2 pgrp, 3 session) is <paramref name="value"/>; every live process for field -1.</summary>
    private static List<(int Pid, string Name)> Where(int field, int value)
    {
        var result = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                // stat: pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses, so split after the last ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                var fields = stat[(close + 2)..].Split(' ');
                if (fields[0] != "Z" && (field < 0 || int.Parse(fields[field], CultureInfo.InvariantCulture) == value))
                {
                    result.Add((pid, stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..close]));
                }
            }
            catch (IOException)
            {
                // The process ended while it was read.
            }
        }

        return result;
    }

    /// <summary>The bytes a process has read so far (<c>rchar</c> of /proc/&lt;pid&gt;/io); null once it ended.</summary>
    public static long? ReadBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/io").FirstOrDefault(l => l.StartsWith("rchar:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line["rchar:".Length..].Trim(), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
