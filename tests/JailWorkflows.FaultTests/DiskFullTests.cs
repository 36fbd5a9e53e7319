namespace JailWorkflows.FaultTests;

/// <summary>(d) The jails file system (a small loop file system of the test's own) filled while a partition is restored. Jail IP 127.0.20.77.</summary>
[Collection(LabCollection.Name)]
public sealed class DiskFullTests(LabFixture lab)
{
    [LabFact]
    public async Task A_target_file_system_filled_mid_restore_fails_the_step_through_its_retries_into_an_incident_and_jailwf_retry_completes_once_space_is_freed()
    {
        var reference = await References.OfAsync(lab, "ServerB");
        var bed = FaultBed.Create(lab, "fault-full", "ServerB", "ffull", "127.0.20.77");
        var jails = bed.Consolidation.Plan.JailHost.JailsDir;
        await using var fileSystem = await LoopFileSystem.MountAsync(Path.Combine(bed.Consolidation.Directory, "jails.ext4"), jails, sizeMiB: 64);
        var filler = Path.Combine(jails, "filler"); // on the same file system, outside the jail root
        await using var knob = await DumpPause.SetAsync(lab, "ServerB", "/");
        try
        {
            var (process, instance, _) = await bed.StartCaughtHalfwayAsync(knob);
            using (process)
            {
                // Fill every free block, then let the dump go on.
                var fill = await Local.RunAsync("dd", ["if=/dev/zero", "of=" + filler, "bs=1k"]);
                Assert.Contains("No space left on device", fill.StdErr, StringComparison.Ordinal);
                knob.Clear();

                var exit = await process.WaitAsync(FaultBed.RunTimeout);
                Assert.True(exit == 1, $"a full file system ends in an incident (exit 1) after the retries: exit {exit}\n{process.StdOut}\n{process.StdErr}");
            }

            var view = await bed.ViewAsync();
            Assert.Equal(InstanceState.Incident, view.State);
            var incident = view.Incident;
            Assert.NotNull(incident);
            Assert.Equal("transfer", incident.Step);
            Assert.Contains("partition / of ServerB", incident.Error, StringComparison.Ordinal);
            Assert.Contains("No space left", incident.Error + "\n" + incident.OutputTail, StringComparison.Ordinal);

            var journal = await bed.JournalAsync(instance);
            var retries = journal.Where(e => e.Kind == JournalEntryKind.Warning && e.Step == "transfer" && e.Message.Contains(" failed", StringComparison.Ordinal) && e.Message.StartsWith("attempt ", StringComparison.Ordinal)).ToList();
            Assert.True(retries.Count == FaultBed.MaxAttempts - 1, $"expected {FaultBed.MaxAttempts - 1} automatic retries:\n{FaultBed.Describe(journal)}");
            Assert.Equal(FaultBed.MaxAttempts, FaultBed.Started(journal).Count(j => j.Contains("-transfer-p0-", StringComparison.Ordinal)));
            Assert.Single(journal, e => e.Kind == JournalEntryKind.Incident);
            Assert.DoesNotContain(journal, e => e.Message.StartsWith("partition / transferred", StringComparison.Ordinal));

            // Space freed: the operator retries the step, which transfers / again and goes on to the end.
            File.Delete(filler);
            await bed.RetryToEndAsync(instance, "fault suite: filler removed, space freed", reference, "full file system");
        }
        finally
        {
            await bed.Consolidation.StopJailAsync();
        }
    }
}
