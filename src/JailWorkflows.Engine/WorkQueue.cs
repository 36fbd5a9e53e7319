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
/// It replaces WorkflowCore's <c>SingleNodeQueueProvider</c>, whose <c>DequeueWork</c> blocks a thread-pool thread per
/// consumer in <c>BlockingCollection.TryTake</c> with a 100 ms timeout, ten times a second each, and spins
/// (sched_yield(2)) in every wait: measured with <c>dotnet-trace collect-linux</c> while a transfer's host job ran, that
/// was about a third of the engine's CPU time, taken from the dump | restore pipe on the same cores (docs/benchmarks.md,
/// Transfer).
/// </para>
/// <para>
/// Index work (<see cref="QueueType.Index"/>) is dropped: the engine keeps no search index (WorkflowCore's
/// <c>EnableIndexes</c> is off), but WorkflowCore queues every persisted instance for indexing regardless, and nobody
/// would take it off the queue. Work is in memory only, as with WorkflowCore's provider: after a restart WorkflowCore's
/// runnable poll finds the instances again in the store.
/// </para>
/// </remarks>
internal sealed class WorkQueue : IQueueProvider
{
    private readonly Channel<string> _workflows = Channel.CreateUnbounded<string>();
    private readonly Channel<string> _events = Channel.CreateUnbounded<string>();

    /// <summary>Configures WorkflowCore as the engine runs it: this queue, and no search index.</summary>
    /// <param name="options">WorkflowCore's options (in <c>services.AddWorkflow(o =&gt; …)</c>).</param>
    public static void Use(WorkflowOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.UseQueueProvider(_ => new WorkQueue());

        // No search index is kept: WorkflowCore's index consumer would only read every instance once more after each step.
        options.EnableIndexes = false;
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

    private Channel<string> Of(QueueType queue) => queue switch
    {
        QueueType.Workflow => _workflows,
        QueueType.Event => _events,
        _ => throw new ArgumentOutOfRangeException(nameof(queue), queue, "Index work is not queued."),
    };
}
