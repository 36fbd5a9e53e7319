using JailWorkflows.Engine.Store;
using Microsoft.Extensions.DependencyInjection;
using WorkflowCore.Interface;
using WorkflowCore.Models;

namespace JailWorkflows.Tests.Store;

public sealed class SleepOnceData
{
    public int FirstStepRuns { get; set; }

    public int? CheckpointPhaseSeen { get; set; }

    public string? CheckpointJobSeen { get; set; }

    public bool SecondStepDone { get; set; }
}

public sealed record SleepCheckpoint(int Phase, string JobId);

/// <summary>Sleeps once with a checkpoint (as an activity polling a host job does), then continues.</summary>
public sealed class SleepOnceStep : StepBody
{
    public override ExecutionResult Run(IStepExecutionContext context)
    {
        var data = (SleepOnceData)context.Workflow.Data;
        data.FirstStepRuns++;
        if (context.PersistenceData is SleepCheckpoint checkpoint)
        {
            data.CheckpointPhaseSeen = checkpoint.Phase;
            data.CheckpointJobSeen = checkpoint.JobId;
            return ExecutionResult.Next();
        }

        // Longer than the poll interval, so WorkflowCore schedules a command instead of a timer.
        return ExecutionResult.Sleep(TimeSpan.FromMilliseconds(600), new SleepCheckpoint(2, "job-42"));
    }
}

public sealed class FinishStep : StepBody
{
    public override ExecutionResult Run(IStepExecutionContext context)
    {
        ((SleepOnceData)context.Workflow.Data).SecondStepDone = true;
        return ExecutionResult.Next();
    }
}

public sealed class SleepOnceWorkflow : IWorkflow<SleepOnceData>
{
    public string Id => "store-test-sleep-once";

    public int Version => 1;

    public void Build(IWorkflowBuilder<SleepOnceData> builder)
        => builder.StartWith<SleepOnceStep>().Then<FinishStep>();
}

public sealed class WorkflowCoreHostTests : IDisposable
{
    private readonly TempStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public async Task A_real_workflow_sleeps_with_a_checkpoint_and_completes_against_the_store()
    {
        var services = _store.Open(s =>
        {
            s.AddLogging();
            s.AddWorkflow(o =>
            {
                o.UsePersistence(sp => sp.GetRequiredService<SqlitePersistenceProvider>());
                o.UsePollInterval(TimeSpan.FromMilliseconds(200));
            });
        });
        Assert.Same(services.GetRequiredService<SqlitePersistenceProvider>(), services.GetRequiredService<IPersistenceProvider>());
        var provider = services.GetRequiredService<SqlitePersistenceProvider>();
        var host = services.GetRequiredService<IWorkflowHost>();
        host.RegisterWorkflow<SleepOnceWorkflow, SleepOnceData>();
        host.Start();
        WorkflowInstance? instance;
        try
        {
            var id = await host.StartWorkflow("store-test-sleep-once", 1, new SleepOnceData());
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                instance = await provider.GetWorkflowInstance(id);
                if (instance?.Status == WorkflowStatus.Complete || DateTime.UtcNow > deadline)
                {
                    break;
                }

                await Task.Delay(50);
            }
        }
        finally
        {
            host.Stop();
        }

        Assert.NotNull(instance);
        Assert.Equal(WorkflowStatus.Complete, instance.Status);
        var data = Assert.IsType<SleepOnceData>(instance.Data);
        Assert.Equal(2, data.FirstStepRuns);
        Assert.Equal(2, data.CheckpointPhaseSeen);
        Assert.Equal("job-42", data.CheckpointJobSeen);
        Assert.True(data.SecondStepDone);
        Assert.Equal(DateTimeKind.Utc, instance.CompleteTime!.Value.Kind);
        Assert.Equal(2, instance.ExecutionPointers.Count);
        Assert.All(instance.ExecutionPointers, p =>
        {
            Assert.Equal(PointerStatus.Complete, p.Status);
            Assert.Equal(DateTimeKind.Utc, p.EndTime!.Value.Kind);
        });
        Assert.Empty(await provider.GetErrors(instance.Id));
        Assert.Empty(await provider.GetRunnableInstances(DateTime.UtcNow.AddDays(1)));
    }
}
