using System.Threading.Channels;
using WorkflowCore.Interface;
using WorkflowCore.Models;

namespace JailWorkflows.Engine;

/// <summary>
/// WorkflowCore's work queue inside the one engine process that holds a database (<see cref="EngineLock"/>): an
/// unbounded <see cref="Channel{T}"/> per queue, which WorkflowCore's consumers await without holding a thread.
/// </summary>
/// <remarks>
/// <para>
/// It replaces WorkflowCore's <c>SingleNodeQueueProvider</c>, whose <c>DequeueWork</c> blocks each consumer's thread in
/// <c>BlockingCollection.TryTake</c> with a 100 ms timeout, ten times a second each, and spins (sched_yield(2)) in every
/// wait: measured with <c>dotnet-trace collect-linux</c> while a transfer's host job ran, that was about a third of the
/// engine's CPU time, taken from the dump | restore pipe on the same cores (docs/benchmarks.md, Transfer).
/// </para>
/// <para>
/// An instance a step of which runs (its lock held, <see cref="WorkLocks"/>) is not handed out: it is held back until the
/// lock is let go, once however often it was queued meanwhile. WorkflowCore's consumer would put it back at once and take
/// it again, in a loop that keeps a core busy for as long as the step runs (an instance queued by StartWorkflow, a
/// decision or a short sleep, and again by the runnable poll while its step runs).
/// </para>
/// <para>
/// Index work (<see cref="QueueType.Index"/>) is dropped: the engine keeps no search index (WorkflowCore's
/// <c>EnableIndexes</c> is off), but WorkflowCore queues every persisted instance for indexing regardless, and nobody
/// would take it off the queue. Work is in memory only, as with WorkflowCore's provider: after a restart WorkflowCore's
/// runnable poll finds the instances again in the store.
/// </para>
/// </remarks>
internal sealed class WorkQueue(WorkLocks locks) : IQueueProvider
{
    private readonly Channel<string> _workflows = Channel.CreateUnbounded<string>();
    private readonly Channel<string> _events = Channel.CreateUnbounded<string>();
    private readonly HashSet<string> _heldBack = new(StringComparer.Ordinal);

    /// <summary>Configures WorkflowCore as the engine runs it: a queue of this kind with its instance locks, and no search index.</summary>
    /// <param name="options">WorkflowCore's options (in <c>services.AddWorkflow(o =&gt; …)</c>; one engine's).</param>
    /// <returns>The queue WorkflowCore will use.</returns>
    public static WorkQueue Use(WorkflowOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var locks = new WorkLocks();
        var queue = new WorkQueue(locks);
        options.UseDistributedLockManager(_ => locks);
        options.UseQueueProvider(_ => queue);

        // No search index is kept: WorkflowCore's index consumer would only read every instance once more after each step.
        options.EnableIndexes = false;
        return queue;
    }

    /// <summary>Instances held back right now, each until a step of it that runs ends.</summary>
    public int HeldBack
    {
        get
        {
            lock (_heldBack)
            {
                return _heldBack.Count;
            }
        }
    }

    /// <summary>True: <see cref="DequeueWork"/> waits for work (so the consumer does not sleep between empty dequeues).</summary>
    public bool IsDequeueBlocking => true;

    /// <summary>Queues a workflow instance or event id; index work is dropped.</summary>
    /// <param name="id">The instance or event id.</param>
    /// <param name="queue">Which queue.</param>
    /// <returns>A completed task.</returns>
    public Task QueueWork(string id, QueueType queue)
    {
        if (queue != QueueType.Index)
        {
            // Unbounded: TryWrite fails only after Dispose, when no consumer runs any more.
            _ = Of(queue).Writer.TryWrite(id);
        }

        return Task.CompletedTask;
    }

    /// <summary>Waits for the next id of <paramref name="queue"/>.</summary>
    /// <param name="queue">Which queue.</param>
    /// <param name="cancellationToken">The consumer's stop.</param>
    /// <returns>The id.</returns>
    /// <exception cref="OperationCanceledException">The consumer stops (WorkflowCore's consumer loop ends on it).</exception>
    public async Task<string> DequeueWork(QueueType queue, CancellationToken cancellationToken)
    {
        if (queue == QueueType.Index)
        {
            // No index consumer runs (EnableIndexes is off); should one ask, it waits until it stops.
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }

        var reader = Of(queue).Reader;
        while (true)
        {
            if (reader.TryRead(out var id))
            {
                if (queue == QueueType.Workflow && locks.ReleasedAsync(id) is { } released)
                {
                    HoldBack(id, released);
                    continue;
                }

                return id;
            }

            if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                // Disposed: wait for the consumer's stop rather than hand it an endless run of empty dequeues.
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Nothing to start.</summary>
    /// <returns>A completed task.</returns>
    public Task Start() => Task.CompletedTask;

    /// <summary>Nothing to stop (the consumers' own stop cancels their waits).</summary>
    /// <returns>A completed task.</returns>
    public Task Stop() => Task.CompletedTask;

    /// <summary>Completes the queues; later work is dropped.</summary>
    public void Dispose()
    {
        _workflows.Writer.TryComplete();
        _events.Writer.TryComplete();
    }

    /// <summary>Queues <paramref name="id"/> again once <paramref name="released"/> completes; a second copy meanwhile is dropped.</summary>
    private void HoldBack(string id, Task released)
    {
        lock (_heldBack)
        {
            if (!_heldBack.Add(id))
            {
                return;
            }
        }

        _ = released.ContinueWith(
            done =>
            {
                lock (_heldBack)
                {
                    _heldBack.Remove(id);
                }

                _ = _workflows.Writer.TryWrite(id);
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private Channel<string> Of(QueueType queue) => queue switch
    {
        QueueType.Workflow => _workflows,
        QueueType.Event => _events,
        _ => throw new ArgumentOutOfRangeException(nameof(queue), queue, "Index work is not queued."),
    };
}
