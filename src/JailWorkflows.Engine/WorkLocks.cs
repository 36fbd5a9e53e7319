using WorkflowCore.Interface;

namespace JailWorkflows.Engine;

/// <summary>
/// WorkflowCore's instance locks inside the one engine process that holds a database (<see cref="EngineLock"/>), as
/// WorkflowCore's <c>SingleNodeLockProvider</c> keeps them, and able to say when a lock is let go: <see cref="WorkQueue"/>
/// holds an instance back while a step of it runs (<see cref="ReleasedAsync"/>).
/// </summary>
/// <remarks>
/// WorkflowCore's workflow consumer takes the instance id's lock for each pass over an instance; the engine's decisions
/// (<see cref="JailwfEngine"/>'s retry, skip, abort, approve, resume) take the same lock.
/// </remarks>
internal sealed class WorkLocks : IDistributedLockProvider
{
    private readonly Dictionary<string, TaskCompletionSource> _held = new(StringComparer.Ordinal);

    /// <summary>Takes the lock on <paramref name="Id"/> if nobody holds it.</summary>
    /// <param name="Id">The lock's name (an instance id, or WorkflowCore's own names such as <c>poll runnables</c>).</param>
    /// <param name="cancellationToken">Not used: the answer is immediate.</param>
    /// <returns>True when taken; false when it is held.</returns>
    public Task<bool> AcquireLock(string Id, CancellationToken cancellationToken)
    {
        lock (_held)
        {
            return Task.FromResult(_held.TryAdd(Id, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)));
        }
    }

    /// <summary>Lets go of the lock on <paramref name="Id"/> (nothing when it is not held).</summary>
    /// <param name="Id">The lock's name.</param>
    /// <returns>A completed task.</returns>
    public Task ReleaseLock(string Id)
    {
        TaskCompletionSource? released;
        lock (_held)
        {
            _held.Remove(Id, out released);
        }

        released?.TrySetResult();
        return Task.CompletedTask;
    }

    /// <summary>When the lock on <paramref name="id"/> is let go, or null when nobody holds it now.</summary>
    /// <param name="id">The lock's name.</param>
    /// <returns>A task that completes when the current holder releases it; null when it is free.</returns>
    public Task? ReleasedAsync(string id)
    {
        lock (_held)
        {
            return _held.TryGetValue(id, out var held) ? held.Task : null;
        }
    }

    /// <summary>Nothing to start.</summary>
    /// <returns>A completed task.</returns>
    public Task Start() => Task.CompletedTask;

    /// <summary>Nothing to stop.</summary>
    /// <returns>A completed task.</returns>
    public Task Stop() => Task.CompletedTask;
}
