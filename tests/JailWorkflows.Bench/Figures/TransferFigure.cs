using System.Globalization;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Hosts;
using JailWorkflows.Lab;
using JailWorkflows.Shell;

namespace JailWorkflows.Bench.Figures;

/// <summary>
/// Issue 7, figure 3: a lab partition of at least 1 GiB transferred by our TransferPartitions (jailwf run of a one-step
/// definition, the engine its own process) against the same <c>ssh root@src "dump -0ua -f - /data" | restore -rf -</c>
/// typed by hand on the jail host, and against a local <c>dump | restore</c> without SSH (the limit); runs alternate, the
/// median of each counts. The engine's memory is read from /proc while the partition streams through the jail host.
/// </summary>
internal sealed class TransferFigure : Figure
{
    private const string LabDirectory = "/var/tmp/jailwf-lab-bench-transfer";
    private const string JailIp = "127.0.20.201";
    private const double RssTargetMiB = 150;

    /// <inheritdoc />
    public override string Name => "transfer";

    /// <inheritdoc />
    public override string Title => "Transfer";

    /// <inheritdoc />
    public override bool NeedsLab => true;

    /// <inheritdoc />
    public override async Task<FigureReport> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var dataMiB = context.Quick ? 256 : 1024;
        var rounds = context.Quick ? 1 : 5;

        // jailwf as README's install leaves it (ReadyToRun), as an admin runs it.
        var jailwf = await context.PublishedJailwfAsync(cancellationToken).ConfigureAwait(false);
        await using var lab = await BenchLab.UpAsync(context, new LabOptions { Directory = LabDirectory, DataPartitionMiB = dataMiB, BuildStageSeconds = 0.1 }, cancellationToken).ConfigureAwait(false);
        var server = lab.Info.Server("ServerA");
        await using var jailHost = new SshHost(lab.Info.JailHost.Ssh);
        var scratch = Path.Combine(lab.Info.JailHost.Directory, "bench", "transfer-typed");
        Directory.CreateDirectory(scratch);

        // What a person on the jail host has: ServerA's key in a known_hosts file, the transfer key, the lab's PATH.
        var knownHosts = Path.Combine(scratch, "known_hosts");
        await File.WriteAllTextAsync(knownHosts, KnownHosts.Line(server.Ssh.Address, server.Ssh.Port, server.Ssh.HostKey) + "\n", cancellationToken).ConfigureAwait(false);
        var dump = Dump.Command(FreeBsdRelease.Parse(server.Release), 0, "/data", snapshot: true);
        var sshDump = ShellCommand.Of("ssh", ["-i", lab.Info.JailHost.TransferKeyFile, "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=" + knownHosts, .. OpenSsh.LegacyOptions, "root@" + server.Ssh.Address, dump.Text]);
        var localDump = ShellCommand.Of(Path.Combine(server.Directory, "bin", "dump"), "-0ua", "-f", "-", "/data");

        // Warm-up (not counted): the image's pages into the page cache, so no variant pays for the first read.
        context.Progress("warm-up: a local dump of /data to /dev/null");
        await jailHost.RunCheckedAsync(localDump.RedirectTo("/dev/null"), cancellationToken).ConfigureAwait(false);

        var typed = new List<Run>();
        var local = new List<Run>();
        var ours = new List<EngineRun>();
        for (var round = 1; round <= rounds; round++)
        {
            // Rotate the order so no variant always runs first (or right after another's writes).
            var order = new[] { "typed", "ours", "local" }.Skip((round - 1) % 3).Concat(new[] { "typed", "ours", "local" }.Take((round - 1) % 3));
            foreach (var variant in order)
            {
                switch (variant)
                {
                    case "typed":
                        typed.Add(await PipeAsync(jailHost, sshDump, Path.Combine(scratch, $"typed-{round}"), cancellationToken).ConfigureAwait(false));
                        context.Progress($"round {round}: typed ssh dump | restore: {typed[^1]}");
                        break;
                    case "local":
                        local.Add(await PipeAsync(jailHost, localDump, Path.Combine(scratch, $"local-{round}"), cancellationToken).ConfigureAwait(false));
                        context.Progress($"round {round}: local dump | restore: {local[^1]}");
                        break;
                    default:
                        ours.Add(await OursAsync(lab.Info, jailwf, round, cancellationToken).ConfigureAwait(false));
                        context.Progress($"round {round}: jailwf TransferPartitions: {ours[^1].Run} (host job alone {ours[^1].HostJob.TotalSeconds:0.00} s), engine RSS {Mib(ours[^1].RssStart):0} -> {Mib(ours[^1].RssPeak):0} MiB, engine CPU {ours[^1].Cpu.TotalSeconds:0.00} s in {ours[^1].Sampled.TotalSeconds:0.0} s");
                        break;
                }
            }
        }

        var bytes = typed[0].Bytes;
        if (typed.Concat(local).Select(r => r.Bytes).Concat(ours.Select(o => o.Run.Bytes)).Any(b => b != bytes))
        {
            throw new InvalidOperationException($"the dumps differ in size: typed {string.Join(", ", typed.Select(r => r.Bytes))}, local {string.Join(", ", local.Select(r => r.Bytes))}, ours {string.Join(", ", ours.Select(o => o.Run.Bytes))}");
        }

        var oursSeconds = Local.Median(ours.Select(o => o.Run.Seconds));
        var hostJobSeconds = Local.Median(ours.Select(o => o.HostJob.TotalSeconds));
        var typedSeconds = Local.Median(typed.Select(r => r.Seconds));
        var localSeconds = Local.Median(local.Select(r => r.Seconds));
        double Rate(double seconds) => bytes / seconds / 1e6;
        var vsTyped = typedSeconds / oursSeconds;
        var vsLocal = localSeconds / oursSeconds;
        var rssStart = ours.Max(o => o.RssStart);
        var rssPeak = ours.Max(o => o.RssPeak);
        var hwm = ours.Max(o => o.Hwm);
        var growth = ours.Max(o => o.RssPeak - o.RssStart);
        var lateGrowth = ours.Max(o => o.SecondHalfPeak - o.FirstHalfPeak);
        var flat = ours.All(o => o.SecondHalfPeak <= o.FirstHalfPeak * 1.05);
        var rssMet = Mib(rssPeak) <= RssTargetMiB && flat;
        var size = string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0} MiB dump of {dataMiB} MiB of file data");

        var jobVsTyped = typedSeconds / hostJobSeconds;
        var measurements = new List<Measurement>
        {
            new($"throughput of TransferPartitions' transfer (its host job on the jail host, as the engine runs and polls it; {size}; median of {rounds})",
                F($"{Rate(hostJobSeconds):0} MB/s ({hostJobSeconds:0.00} s)"),
                F($"typed ssh dump | restore: {Rate(typedSeconds):0} MB/s ({typedSeconds:0.00} s); ours = {jobVsTyped:0.00}x"),
                ">= 0.95x the typed pipe",
                jobVsTyped >= 0.95),
            new("TransferPartitions end to end (JobStarted to JobFinished in the journal)",
                F($"{Rate(oursSeconds):0} MB/s ({oursSeconds:0.00} s) = {vsTyped:0.00}x the typed pipe"),
                F($"the engine's side per partition, not per byte: {oursSeconds - hostJobSeconds:0.00} s (the job started over SSH; its end noticed at the next poll, every 2 s)")),
            new("TransferPartitions against the limit",
                F($"{vsLocal:0.00}x"),
                F($"local dump | restore, no SSH: {Rate(localSeconds):0} MB/s ({localSeconds:0.00} s); the typed pipe reaches {localSeconds / typedSeconds:0.00}x of it")),
            new("engine RSS during the transfer (VmRSS at the job's start -> peak)",
                F($"{Mib(rssStart):0} -> {Mib(rssPeak):0} MiB (VmHWM {Mib(hwm):0} MiB)"),
                F($"grew by at most {Mib(growth):0.0} MiB in a run, of which {Mib(Math.Max(0, lateGrowth)):0.0} MiB in the transfer's second half (peak of the second half against the first), while {bytes / 1048576.0:0} MiB passed through the jail host"),
                F($"<= {RssTargetMiB:0} MiB, flat (second half's peak <= first half's + 5%)"),
                rssMet),
            new("engine CPU during the transfer (user + system, /proc/<pid>/stat; median)",
                F($"{Local.Median(ours.Select(o => o.Cpu.TotalSeconds)):0.00} s in {Local.Median(ours.Select(o => o.Sampled.TotalSeconds)):0.0} s = {Local.Median(ours.Select(o => o.Cpu / o.Sampled)) * 100:0.0}% of a core"),
                "the pipe's own processes (dump, ssh and sshd, restore) share the same cores"),
        };

        var notes = new List<string>();
        if (jobVsTyped < 0.95)
        {
            notes.Add(F($"The transfer as the engine runs it is {jobVsTyped:0.00}x the typed pipe: its host job took {hostJobSeconds:0.00} s against the typed pipe's {typedSeconds:0.00} s. The job runs the same pipe under daemon(8) (its output to a file) while the engine polls it over SSH every 2 s (a session, ps and od on the jail host each time); here the source server, the jail host and the engine share the machine's {Environment.ProcessorCount} cores with dump, both ends of ssh and restore."));
        }

        if (!rssMet)
        {
            notes.Add(F($"Engine RSS: start {Mib(rssStart):0} MiB, peak {Mib(rssPeak):0} MiB, VmHWM {Mib(hwm):0} MiB: {(Mib(rssPeak) > RssTargetMiB ? "above the target" : string.Empty)}{(flat ? "; flat: it does not grow with the bytes moved (the second half's peak is within 5% of the first half's)" : "; not flat: it still grew in the transfer's second half")}. The data never passes through the engine (ssh | restore run on the jail host); what it holds is its own: the .NET runtime, ASP.NET Core, EF Core with SQLite, WorkflowCore and SSH.NET loaded by the one jailwf binary (about {Mib(rssStart):0} MiB before the transfer starts), and what it allocates while the step polls the job over SSH and journals its output."));
        }

        var method = F($"""
            A lab with an extra partition `/data` on ServerA (`LabOptions.DataPartitionMiB` = {dataMiB}: incompressible file data, a fifth in 4-64 KiB files, the rest in 1-8 MiB files, on an ext4 image on a loop device) is transferred {rounds} time(s) each way, the ways alternating (rotated order per round) into a fresh, empty directory on the same file system, after one untimed warm-up dump: **ours** is `jailwf run` (published ReadyToRun, as README's install leaves it) of a one-step definition (TransferPartitions; plan with `/` and `/data` of ServerA; jailwf's default job poll of 2 s), its transfer's time the `/data` host job's on the jail host (its script's start to its exit file), and end to end from the journal (JobStarted to JobFinished); **typed** is `ssh -i <transfer key> -o UserKnownHostsFile=… root@127.0.1.1 "dump -0ua -f - /data" | restore -rf -` run in a shell on the jail host, timed there with `date +%s.%N` around the pipe; the **limit** is the same source-side dump (the lab's dump(8) shim on the loop device) piped into restore locally, no SSH. Each run's dump size (dump's `N blocks` line) must be equal. The engine's VmRSS and VmHWM are read from /proc/<pid>/status every 50 ms while jailwf runs; start is the first sample after the `/data` job started, peak the largest until it finished (the largest over the rounds).
            """);
        return new FigureReport(measurements, method, notes);
    }

    private static double Mib(long bytes) => bytes / 1048576.0;

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>Runs <paramref name="source"/> <c>| restore -rf -</c> in a new, empty <paramref name="directory"/> on the jail host, timed there; removes the directory after.</summary>
    private static async Task<Run> PipeAsync(SshHost jailHost, ShellCommand source, string directory, CancellationToken ct)
    {
        var clock = ShellCommand.Of("date", "+%s.%N");
        var command = ShellCommand.Of("mkdir", "-p", directory)
            .And(ShellCommand.Of("cd", directory))
            .And(clock)
            .And(source.Pipe(Restore.Command()))
            .And(clock);
        try
        {
            var result = await jailHost.RunAsync(command, null, ct).ConfigureAwait(false);
            var times = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(l => double.TryParse(l, NumberStyles.Float, CultureInfo.InvariantCulture, out var t) ? t : (double?)null).OfType<double>().ToList();
            var lines = result.StdErr.Split('\n').Select(Dump.ParseStderrLine).ToList();
            if (!result.Succeeded || times.Count != 2 || !lines.Any(l => l.Kind == DumpLineKind.Done) || Restore.FailureIn(result.StdErr).Count > 0)
            {
                throw new InvalidOperationException($"{command.Text}: exit {result.ExitStatus}\n{result.StdOut}\n{result.StdErr}");
            }

            return new Run(times[1] - times[0], Blocks(lines));
        }
        finally
        {
            await LabBed.RemoveTreeAsync(directory).ConfigureAwait(false);
        }
    }

    private static long Blocks(IEnumerable<DumpLine> lines) =>
        (lines.LastOrDefault(l => l.Kind == DumpLineKind.BlocksWritten)?.Blocks ?? throw new InvalidOperationException("dump printed no 'N blocks' line")) * Dump.BlockSize;

    /// <summary>One `jailwf run` (<paramref name="jailwf"/>: the published jailwf.dll) of the transfer-only definition in a bed of its own, its memory sampled; the bed is removed after.</summary>
    private static async Task<EngineRun> OursAsync(LabInfo lab, string jailwf, int round, CancellationToken ct)
    {
        var bed = await LabBed.CreateAsync(lab, $"transfer-ours-{round}", "ServerA", JailIp, ["/", "/data"], null, ("transfer-only", [("transfer", "TransferPartitions")])).ConfigureAwait(false);

        // As an admin runs it: jailwf's default job poll (2 s), not the tests' quick one.
        bed.Poll = null;
        try
        {
            var samples = new List<(DateTime At, long Rss, long Hwm, TimeSpan Cpu)>();
            int exit;
            string output;
            using (var engine = EngineProcess.StartDll(jailwf, bed.RunArgs("transfer-only")))
            {
                var wait = engine.WaitAsync(TimeSpan.FromMinutes(15), ct);
                while (!wait.IsCompleted)
                {
                    if (engine.Memory() is { } m && engine.CpuTime() is { } cpu)
                    {
                        samples.Add((DateTime.UtcNow, m.Rss, m.Hwm, cpu));
                    }

                    await Task.WhenAny(wait, Task.Delay(50, ct)).ConfigureAwait(false);
                }

                exit = await wait.ConfigureAwait(false);
                output = engine.Output;
            }

            var instance = (await bed.InstanceAsync().ConfigureAwait(false)) ?? throw new InvalidOperationException($"jailwf made no instance:\n{output}");
            var journal = await bed.JournalAsync(instance.Id).ConfigureAwait(false);
            if (exit != 0)
            {
                throw new InvalidOperationException($"jailwf run exited {exit}:\n{output}\n{Journals.Describe(journal)}");
            }

            var job = journal.Single(e => e.Kind == JournalEntryKind.JobStarted && e.JobId!.Contains("-transfer-p1-", StringComparison.Ordinal)).JobId!;
            var started = journal.Single(e => e.Kind == JournalEntryKind.JobStarted && e.JobId == job).Timestamp;
            var finished = journal.Single(e => e.Kind == JournalEntryKind.JobFinished && e.JobId == job).Timestamp;
            var during = samples.Where(s => s.At >= started && s.At <= finished).ToList();
            if (during.Count < 2)
            {
                throw new InvalidOperationException($"too few memory samples during the transfer ({during.Count})");
            }

            var lines = journal.Where(e => e.Kind == JournalEntryKind.JobOutput && e.JobId == job).Select(e => Dump.ParseStderrLine(e.Message));
            var middle = started + ((finished - started) / 2);
            return new EngineRun(
                new Run((finished - started).TotalSeconds, Blocks(lines)),
                bed.HostJobTime(job),
                during[0].Rss,
                during.Max(s => s.Rss),
                during.Where(s => s.At < middle).DefaultIfEmpty(during[0]).Max(s => s.Rss),
                during.Where(s => s.At >= middle).DefaultIfEmpty(during[^1]).Max(s => s.Rss),
                during[^1].Hwm,
                during[^1].Cpu - during[0].Cpu,
                during[^1].At - during[0].At);
        }
        finally
        {
            await bed.RemoveAsync().ConfigureAwait(false);
        }
    }

    private sealed record Run(double Seconds, long Bytes)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Seconds:0.00} s, {Bytes / Seconds / 1e6:0} MB/s");
    }

    /// <summary>One engine run: the transfer, its host job's own time, the engine's memory and its CPU time (user + system) over <paramref name="Sampled"/> of the transfer.</summary>
    private sealed record EngineRun(Run Run, TimeSpan HostJob, long RssStart, long RssPeak, long FirstHalfPeak, long SecondHalfPeak, long Hwm, TimeSpan Cpu, TimeSpan Sampled);
}
