using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Tests.Store;
using Microsoft.Extensions.DependencyInjection;
using WorkflowCore.Interface;
using WorkflowCore.Models;

namespace JailWorkflows.Tests.Engine;

/// <summary>The engine's WorkflowCore work queue: order, waiting without a thread, instances held back while a step of theirs runs, index work dropped, stop.</summary>
public sealed class WorkQueueTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Work_comes_out_in_order_per_queue()
    {
        using var queue = new WorkQueue(new WorkLocks());
        await queue.QueueWork("w1", QueueType.Workflow);
        await queue.QueueWork("e1", QueueType.Event);
        await queue.QueueWork("w2", QueueType.Workflow);
        await queue.QueueWork("w1", QueueType.Workflow); // the same instance twice stays twice, as WorkflowCore expects

        Assert.Equal("w1", await queue.DequeueWork(QueueType.Workflow, CancellationToken.None));
        Assert.Equal("w2", await queue.DequeueWork(QueueType.Workflow, CancellationToken.None));
        Assert.Equal("w1", await queue.DequeueWork(QueueType.Workflow, CancellationToken.None));
        Assert.Equal("e1", await queue.DequeueWork(QueueType.Event, CancellationToken.None));
    }

    [Fact]
    public async Task A_waiting_consumer_holds_no_thread_and_wakes_when_work_comes()
    {
        using var queue = new WorkQueue(new WorkLocks());
        using var stop = new CancellationTokenSource(Deadline);

        // Far more waiters than the thread pool has threads: were each wait a blocked thread (BlockingCollection.TryTake),
        // the waits below would starve the pool and the work queued afterwards would not reach them before the deadline.
        var waiters = Enumerable.Range(0, 500).Select(_ => queue.DequeueWork(QueueType.Workflow, stop.Token)).ToList();
        Assert.All(waiters, w => Assert.False(w.IsCompleted));
        Assert.True(ThreadPool.ThreadCount < 500, $"thread pool has {ThreadPool.ThreadCount} threads");

        for (var i = 0; i < waiters.Count; i++)
        {
            await queue.QueueWork($"i{i}", QueueType.Workflow);
        }

        var got = await Task.WhenAll(waiters).WaitAsync(stop.Token);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => $"i{i}").Order(StringComparer.Ordinal), got.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_instance_whose_lock_is_held_is_handed_out_once_when_it_is_let_go_and_others_pass()
    {
        var locks = new WorkLocks();
        using var queue = new WorkQueue(locks);
        Assert.True(await locks.AcquireLock("x", CancellationToken.None)); // a step of x runs
        Assert.False(await locks.AcquireLock("x", CancellationToken.None));
        await queue.QueueWork("x", QueueType.Workflow);
        await queue.QueueWork("x", QueueType.Workflow); // queued again meanwhile (the runnable poll)
        await queue.QueueWork("y", QueueType.Workflow);

        Assert.Equal("y", await queue.DequeueWork(QueueType.Workflow, CancellationToken.None));
        Assert.Equal(1, queue.HeldBack);
        using var stop = new CancellationTokenSource(Deadline);
        var next = queue.DequeueWork(QueueType.Workflow, stop.Token);
        Assert.False(next.IsCompleted); // x is not handed out while its step runs

        await locks.ReleaseLock("x");
        Assert.Equal("x", await next.WaitAsync(stop.Token));
        Assert.Equal(0, queue.HeldBack);
        Assert.True(await locks.AcquireLock("x", CancellationToken.None)); // free again

        // The second copy was dropped: one pass over x after its step is all WorkflowCore needs.
        Assert.False(queue.DequeueWork(QueueType.Workflow, stop.Token).IsCompleted);
    }

    [Fact]
    public async Task While_a_step_runs_WorkflowCore_gets_its_instance_once_however_often_it_is_queued()
    {
        // WorkflowCore as the engine runs it, on a real store: StartWorkflow queues the instance, its step blocks, and the
        // runnable poll (every 100 ms) queues it again. Handed out, that copy would go round WorkflowCore's consumer
        // (taken, found active, queued again) for as long as the step runs, keeping a core busy.
        using var store = new TempStore();
        var counting = new CountingQueue();
        var services = store.Open(s =>
        {
            s.AddLogging();
            s.AddWorkflow(o =>
            {
                o.UsePersistence(sp => sp.GetRequiredService<SqlitePersistenceProvider>());
                o.UsePollInterval(TimeSpan.FromMilliseconds(100));
                var queue = WorkQueue.Use(o);
                o.UseQueueProvider(_ => counting.Around(queue));
            });
        });
        var host = services.GetRequiredService<IWorkflowHost>();
        host.RegisterWorkflow<BlockingWorkflow, BlockingData>();
        BlockingStep.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        BlockingStep.Entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Start();
        try
        {
            var id = await host.StartWorkflow("work-queue-blocking", 1, new BlockingData());
            await BlockingStep.Entered.Task.WaitAsync(Deadline);
            await Until(() => counting.Queue!.HeldBack == 1);
            Assert.Equal(1, counting.HandedOut(id));
            Assert.True(counting.Queued(id) >= 2);

            BlockingStep.Gate.SetResult();
            await Until(async () => (await services.GetRequiredService<IPersistenceProvider>().GetWorkflowInstance(id)).Status == WorkflowStatus.Complete);
            await Until(() => counting.Queue!.HeldBack == 0);
            Assert.Equal(1, BlockingStep.Runs);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static Task Until(Func<bool> condition) => Until(() => Task.FromResult(condition()));

    private static async Task Until(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within the deadline");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Index_work_is_dropped_and_an_index_consumer_waits_until_it_stops()
    {
        using var queue = new WorkQueue(new WorkLocks());
        for (var i = 0; i < 1000; i++)
        {
            await queue.QueueWork($"i{i}", QueueType.Index);
        }

        await queue.QueueWork("w", QueueType.Workflow);
        using var stop = new CancellationTokenSource();
        var index = queue.DequeueWork(QueueType.Index, stop.Token);
        Assert.Equal("w", await queue.DequeueWork(QueueType.Workflow, CancellationToken.None));
        Assert.False(index.IsCompleted);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => index.WaitAsync(Deadline));
    }

    [Fact]
    public async Task A_stopping_consumer_gets_cancellation_also_after_dispose()
    {
        var queue = new WorkQueue(new WorkLocks());
        using var stop = new CancellationTokenSource();
        var waiting = queue.DequeueWork(QueueType.Workflow, stop.Token);
        queue.Dispose();
        await queue.QueueWork("late", QueueType.Workflow); // dropped: nobody consumes after dispose

        // A disposed queue does not hand the consumer a run of empty results (WorkflowCore would loop on them at once):
        // a dequeue begun after the dispose does not complete (it would at once, synchronously, if it answered null).
        var afterDispose = queue.DequeueWork(QueueType.Workflow, stop.Token);
        Assert.False(afterDispose.IsCompleted);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Deadline));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => afterDispose.WaitAsync(Deadline));
    }
}

/// <summary>Counts what WorkflowCore queues and is handed out, per id, around the engine's <see cref="WorkQueue"/>.</summary>
internal sealed class CountingQueue : IQueueProvider
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _queued = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _handedOut = new(StringComparer.Ordinal);

    public WorkQueue? Queue { get; private set; }

    public bool IsDequeueBlocking => true;

    /// <summary>Puts itself in front of <paramref name="queue"/>.</summary>
    public CountingQueue Around(WorkQueue queue)
    {
        Queue = queue;
        return this;
    }

    public int Queued(string id) => _queued.GetValueOrDefault(id);

    public int HandedOut(string id) => _handedOut.GetValueOrDefault(id);

    public Task QueueWork(string id, QueueType queue)
    {
        if (queue == QueueType.Workflow)
        {
            _queued.AddOrUpdate(id, 1, (_, n) => n + 1);
        }

        return Queue!.QueueWork(id, queue);
    }

    public async Task<string> DequeueWork(QueueType queue, CancellationToken cancellationToken)
    {
        var id = await Queue!.DequeueWork(queue, cancellationToken);
        if (queue == QueueType.Workflow)
        {
            _handedOut.AddOrUpdate(id, 1, (_, n) => n + 1);
        }

        return id;
    }

    public Task Start() => Queue!.Start();

    public Task Stop() => Queue!.Stop();

    public void Dispose() => Queue?.Dispose();
}

public sealed class BlockingData
{
}

/// <summary>A step that runs until the test lets it end.</summary>
public sealed class BlockingStep : StepBodyAsync
{
    public static TaskCompletionSource Gate { get; set; } = new();

    public static TaskCompletionSource Entered { get; set; } = new();

    public static int Runs { get; private set; }

    public override async Task<ExecutionResult> RunAsync(IStepExecutionContext context)
    {
        Runs++;
        Entered.TrySetResult();
        await Gate.Task;
        return ExecutionResult.Next();
    }
}

public sealed class BlockingWorkflow : IWorkflow<BlockingData>
{
    public string Id => "work-queue-blocking";

    public int Version => 1;

    public void Build(IWorkflowBuilder<BlockingData> builder) => builder.StartWith<BlockingStep>();
}
