namespace JailWorkflows.FaultTests;

/// <summary>
/// (e) The engine killed while an approval is pending, and operator actions on instances that are not in the state they
/// need (ISSUE4.md: exit 2, a clear message, nothing changes). One engine runs two instances: ServerC's reaches the
/// approval of its /etc files while ServerB's transfer is held halfway (lab knob), so the engine is still running when
/// it is killed. Jail IPs 127.0.20.78-79.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class ApprovalKillTests(LabFixture lab)
{
    [LabFact]
    public async Task An_engine_killed_while_an_approval_is_pending_leaves_it_pending_and_approve_completes_it()
    {
        var bed = FaultBed.Create(lab, "fault-approval", "ServerC", "fapprc", "127.0.20.78");
        var serverC = bed.Consolidation.Plan.Servers[0];
        var serverB = lab.Info.ToPlan().Server("ServerB");
        serverB = serverB with { Jail = serverB.Jail with { Name = "fapprb", Ip = "127.0.20.79" } };
        await File.WriteAllTextAsync(bed.Consolidation.PlanFile, JailWorkflows.Plans.PlanWriter.ToYaml(bed.Consolidation.Plan with { Servers = [serverC, serverB] }));
        await using var knob = await DumpPause.SetAsync(lab, "ServerB", "/");
        string c;
        string b;
        try
        {
            using (var engine = Jailwf.Start(bed.RunArgs))
            {
                var instances = await Wait.UntilAsync(async () => await bed.InstancesAsync() is { Count: 2 } all ? all : null, TimeSpan.FromMinutes(1), "both instances");
                c = instances.Single(v => v.Server == "ServerC").Id;
                b = instances.Single(v => v.Server == "ServerB").Id;
                await Wait.UntilAsync(
                    async () => engine.HasExited
                        ? throw new InvalidOperationException($"jailwf exited ({engine.ExitCode}) before ServerC waited for its approval:\n{engine.StdOut}\n{engine.StdErr}")
                        : (await bed.InstancesAsync()).Single(v => v.Id == c).State == InstanceState.AwaitingApproval,
                    FaultBed.RunTimeout,
                    "ServerC's instance to wait for the approval of its /etc files (the wait saved, not only journaled)");
                Assert.False(engine.HasExited, "the engine must still run (ServerB's transfer is held)");
                engine.Kill();
            }

            // No engine runs: ServerC's instance still waits for its approval; ServerB's is interrupted.
            await AssertWaitsForApprovalAsync(bed, c);
            Assert.Equal(InstanceState.Interrupted, (await bed.InstancesAsync()).Single(v => v.Id == b).State);

            // Restarted (the engine continues ServerB's instance): still waiting, not failed, not interrupted. Killed again.
            using (var restarted = Jailwf.Start(bed.ResumeArgs(b)))
            {
                await Wait.UntilAsync(
                    async () => restarted.HasExited
                        ? throw new InvalidOperationException($"jailwf resume exited ({restarted.ExitCode}):\n{restarted.StdOut}\n{restarted.StdErr}")
                        : (await bed.InstancesAsync()).Single(v => v.Id == b).State == InstanceState.Running,
                    TimeSpan.FromMinutes(1),
                    "ServerB's instance to run again");
                await AssertWaitsForApprovalAsync(bed, c);
                restarted.Kill();
            }

            await AssertWaitsForApprovalAsync(bed, c);

            // Bad input while ServerC's instance waits and ServerB's is interrupted: nothing changes in either.
            await AssertRefusedAsync(bed, [c, b], c, bed.RetryArgs(c, "fault suite: not an incident"));
            await AssertRefusedAsync(bed, [c, b], c, bed.SkipArgs(c, "fault suite: not an incident"));
            await AssertRefusedAsync(bed, [c, b], b, bed.ApproveArgs(b));

            knob.Clear();
            var approved = await Jailwf.RunAsync(FaultBed.RunTimeout, bed.ApproveArgs(c));
            Assert.True(approved.Exit == 0, $"approve: exit {approved.Exit}\n{approved.StdOut}\n{approved.StdErr}");
            var view = (await bed.InstancesAsync()).Single(v => v.Id == c);
            Assert.Equal(InstanceState.Complete, view.State);
            Assert.All(view.Steps, s => Assert.Equal(StepState.Done, s.State));
            var journal = await bed.JournalAsync(c);
            Assert.Single(journal, e => e.Kind == JournalEntryKind.ApprovalRequested);
            Assert.DoesNotContain(journal, e => e.Kind is JournalEntryKind.StepFailed or JournalEntryKind.Incident);
            Assert.Contains(journal, e => e.Kind == JournalEntryKind.OperatorAction && e.Message.Contains("fault suite: the lab server's accounts", StringComparison.Ordinal));

            var aborted = await Jailwf.RunAsync(FaultBed.RunTimeout, bed.AbortArgs(b, "fault suite: ServerB is not consolidated here"));
            Assert.True(aborted.Exit == 0, $"abort: exit {aborted.Exit}\n{aborted.StdOut}\n{aborted.StdErr}");
            Assert.Equal(InstanceState.Aborted, (await bed.InstancesAsync()).Single(v => v.Id == b).State);

            // Bad input on finished instances and an unknown one.
            foreach (var finished in new[] { c, b })
            {
                await AssertRefusedAsync(bed, [c, b], finished, bed.RetryArgs(finished, "fault suite: finished"));
                await AssertRefusedAsync(bed, [c, b], finished, bed.SkipArgs(finished, "fault suite: finished"));
                await AssertRefusedAsync(bed, [c, b], finished, bed.ApproveArgs(finished));
                await AssertRefusedAsync(bed, [c, b], finished, bed.ResumeArgs(finished));
            }

            const string unknown = "0123456789abcdef";
            foreach (var args in new[] { bed.RetryArgs(unknown, "fault suite: unknown"), bed.SkipArgs(unknown, "fault suite: unknown"), bed.ApproveArgs(unknown), bed.ResumeArgs(unknown) })
            {
                await AssertRefusedAsync(bed, [c, b], unknown, args);
            }
        }
        finally
        {
            await bed.Consolidation.StopJailAsync();
        }
    }

    private static async Task AssertWaitsForApprovalAsync(FaultBed bed, string instance)
    {
        var view = (await bed.InstancesAsync()).Single(v => v.Id == instance);
        Assert.Equal(InstanceState.AwaitingApproval, view.State);
        Assert.Equal("mergeetc", view.Approval?.Step);
        Assert.Null(view.Incident);
        var list = await Jailwf.RunAsync(FaultBed.RunTimeout, bed.Query("list"));
        Assert.Equal(0, list.Exit);
        var row = list.StdOut.Split('\n').Single(l => l.Contains(instance, StringComparison.Ordinal));
        Assert.Contains("AwaitingApproval", row, StringComparison.Ordinal);
        var status = await Jailwf.RunAsync(FaultBed.RunTimeout, bed.Query("status", instance));
        Assert.Equal(0, status.Exit);
        Assert.Contains("waits for approval at step mergeetc", status.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("Interrupted", status.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("Failed", status.StdOut, StringComparison.Ordinal);
    }

    /// <summary>jailwf <paramref name="args"/> exits 2 with a message naming <paramref name="named"/>, and no journal of <paramref name="instances"/> changes.</summary>
    private static async Task AssertRefusedAsync(FaultBed bed, string[] instances, string named, string[] args)
    {
        var before = new List<int>();
        foreach (var instance in instances)
        {
            before.Add((await bed.JournalAsync(instance)).Count);
        }

        var (exit, stdout, stderr) = await Jailwf.RunAsync(FaultBed.RunTimeout, args);
        Assert.True(exit == 2, $"jailwf {string.Join(' ', args)}: expected exit 2, got {exit}\n{stdout}\n{stderr}");
        Assert.Contains(named, stderr, StringComparison.Ordinal);
        for (var i = 0; i < instances.Length; i++)
        {
            var after = await bed.JournalAsync(instances[i]);
            Assert.True(after.Count == before[i], $"jailwf {string.Join(' ', args)} changed the journal of {instances[i]}:\n{FaultBed.Describe(after.Skip(before[i]).ToList())}");
        }
    }
}
