namespace JailWorkflows.FaultTests;

/// <summary>
/// (b) and (c): a transfer caught halfway (the lab's dump of ServerB's / pauses after 256 KiB while restore has
/// begun), then its SSH connection cut, its restore killed, or its whole host job killed. Jail IPs 127.0.20.74-76.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class TransferFaultTests(LabFixture lab)
{
    [LabFact]
    public async Task A_cut_ssh_connection_fails_the_partitions_job_which_is_retried_by_itself_and_only_that_partition_is_transferred_again()
    {
        var listener = int.Parse(await File.ReadAllTextAsync(Path.Combine(lab.Info.Server("ServerB").Directory, "sshd/sshd.pid")), System.Globalization.CultureInfo.InvariantCulture);
        await RetriedByItselfAsync("fault-ssh", "fssh", "127.0.20.74", "ssh exited 255", _ =>
        {
            // The source's sshd processes of that one connection (its listener and every other session stay).
            var session = HostProcesses.SshdSessionServingDump(listener, "/");
            Assert.NotEmpty(session);
            foreach (var pid in session.AsEnumerable().Reverse())
            {
                HostProcesses.Kill(pid);
            }
        });
    }

    [LabFact]
    public async Task A_killed_restore_fails_the_job_which_is_retried_by_itself_and_completes()
    {
        await RetriedByItselfAsync("fault-restore", "frestore", "127.0.20.75", "restore exited 137", group =>
            HostProcesses.Kill(Assert.Single(HostProcesses.OfGroup(group), p => p.Name == "restore").Pid));
    }

    [LabFact]
    public async Task A_host_job_killed_with_its_whole_process_group_is_lost_an_incident_never_a_success_and_jailwf_retry_completes_it()
    {
        var reference = await References.OfAsync(lab, "ServerB");
        var bed = FaultBed.Create(lab, "fault-lost", "ServerB", "flost", "127.0.20.76");
        await using var knob = await DumpPause.SetAsync(lab, "ServerB", "/");
        try
        {
            var (process, instance, job) = await bed.StartCaughtHalfwayAsync(knob);
            using (process)
            {
                // As a reboot of the jail host would: every process of the job gone, no exit file written.
                var group = HostProcesses.JobGroup(bed.JobsDir, job);
                HostProcesses.Kill(group, group: true);
                await Wait.UntilAsync(() => Task.FromResult(HostProcesses.OfGroup(group).Count == 0), TimeSpan.FromSeconds(20), "the job's process group to be gone");
                Assert.False(File.Exists(Path.Combine(bed.JobsDir, job, "exit")));

                var exit = await process.WaitAsync(FaultBed.RunTimeout);
                Assert.True(exit == 1, $"a lost host job is an incident (exit 1): exit {exit}\n{process.StdOut}\n{process.StdErr}");
                Assert.Contains("lost", process.StdErr + process.StdOut, StringComparison.Ordinal);
            }

            var view = await bed.ViewAsync();
            Assert.Equal(InstanceState.Incident, view.State);
            Assert.NotNull(view.Incident);
            Assert.Equal("transfer", view.Incident.Step);
            Assert.Contains("lost", view.Incident.Error, StringComparison.Ordinal);
            Assert.Contains(job, view.Incident.Error, StringComparison.Ordinal);
            var journal = await bed.JournalAsync(instance);
            Assert.Single(journal, e => e.Kind == JournalEntryKind.Incident);
            Assert.DoesNotContain(journal, e => e.Kind == JournalEntryKind.JobFinished && e.JobId == job); // never a success (nor any end)
            Assert.DoesNotContain(journal, e => e.Kind == JournalEntryKind.Warning && e.Message.StartsWith("attempt 1 of", StringComparison.Ordinal)); // never retried by itself
            Assert.DoesNotContain(journal, e => e.Message.StartsWith("partition / transferred", StringComparison.Ordinal));

            knob.Clear();
            await bed.RetryToEndAsync(instance, "fault suite: the jail host is back", reference, "lost job");
        }
        finally
        {
            await bed.Consolidation.StopJailAsync();
        }
    }

    /// <summary>
    /// Catches the transfer of / halfway, breaks it with <paramref name="fault"/> (given the job's process group), lets
    /// the dump go on, and checks the documented end: the job failed, the step was tried again by itself (the verdict
    /// naming <paramref name="verdict"/>), only / was transferred again, no incident, the run complete with the
    /// uninterrupted run's jail tree.
    /// </summary>
    private async Task RetriedByItselfAsync(string name, string jail, string ip, string verdict, Action<int> fault)
    {
        var reference = await References.OfAsync(lab, "ServerB");
        var bed = FaultBed.Create(lab, name, "ServerB", jail, ip);
        await using var knob = await DumpPause.SetAsync(lab, "ServerB", "/");
        try
        {
            var (process, instance, job) = await bed.StartCaughtHalfwayAsync(knob);
            using (process)
            {
                fault(HostProcesses.JobGroup(bed.JobsDir, job));
                knob.Clear();
                var (exit, stdout, stderr) = await bed.FinishAsync(process);
                Assert.True(exit == 0, $"{name}: exit {exit}\n{stdout}\n{stderr}");
            }

            var journal = await bed.JournalAsync(instance);
            Assert.Contains(journal, e => e.Kind == JournalEntryKind.Warning && e.Step == "transfer" && e.Message.StartsWith($"attempt 1 of {FaultBed.MaxAttempts} failed: partition / of ServerB", StringComparison.Ordinal) && e.Message.Contains(verdict, StringComparison.Ordinal));
            Assert.DoesNotContain(journal, e => e.Kind == JournalEntryKind.Incident);
            Assert.Equal(2, FaultBed.Started(journal).Count(j => j.Contains("-transfer-p0-", StringComparison.Ordinal)));
            bed.AssertNothingFinishedWasRedone(journal, name, redone: 0);
            Assert.Equal(InstanceState.Complete, (await bed.ViewAsync()).State);
            await bed.AssertTreeAsync(reference.Tree, $"{name}: after the fault");

            // The broken job ended once, and not as a success: the journal must not say "exited 0" for it.
            var end = Assert.Single(journal, e => e.Kind == JournalEntryKind.JobFinished && e.JobId == job);
            Assert.True(end.ExitStatus != 0, $"{name}: host job {job} broke halfway ({verdict}) but is journaled as '{end.Message}'\n{FaultBed.Describe(journal)}");
        }
        finally
        {
            await bed.Consolidation.StopJailAsync();
        }
    }
}
