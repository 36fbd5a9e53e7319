using JailWorkflows.Engine;
using WorkflowCore.Interface;

namespace JailWorkflows.Tests.Engine;

/// <summary>The engine's WorkflowCore work queue: order, waiting without a thread, index work dropped, stop.</summary>
public sealed class WorkQueueTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Work_comes_out_in_order_per_queue()
    {
        using var queue = new WorkQueue();
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
        using var queue = new WorkQueue();
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
    public async Task Index_work_is_dropped_and_an_index_consumer_waits_until_it_stops()
    {
        using var queue = new WorkQueue();
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
        var queue = new WorkQueue();
        using var stop = new CancellationTokenSource();
        var waiting = queue.DequeueWork(QueueType.Workflow, stop.Token);
        queue.Dispose();
        await queue.QueueWork("late", QueueType.Workflow); // dropped: nobody consumes after dispose

        // A disposed queue does not hand the consumer a run of empty results (WorkflowCore would loop on them at once).
        Assert.False(waiting.IsCompleted);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Deadline));
    }
}
