namespace JailWorkflows.Lab;

/// <summary>
/// Exclusive use of the lab on this machine. The lab's addresses are fixed, so only one lab can run at a time:
/// a test run (or a demo) holds a lease from before <see cref="Lab.UpAsync"/> until after <see cref="Lab.DownAsync"/>,
/// and any other process's UpAsync/DownAsync is refused meanwhile (it would reuse or tear down the lab under the
/// holder's feet). The lease is an exclusive lock (flock(2)) on <c>/run/jailwf-lab.lock</c>; it ends with
/// <see cref="Dispose"/> or with the process.
/// </summary>
public sealed class LabLease : IDisposable
{
    /// <summary>The lock file.</summary>
    public const string LockFile = "/run/jailwf-lab.lock";

    private static readonly Lock Gate = new();
    private static int _heldByThisProcess;
    private FileStream? _stream;

    private LabLease(FileStream stream) => _stream = stream;

    /// <summary>True while this process holds a lease.</summary>
    public static bool HeldByThisProcess
    {
        get
        {
            lock (Gate)
            {
                return _heldByThisProcess > 0;
            }
        }
    }

    /// <summary>Waits (polling every 200 ms) until the lease is free, then takes it.</summary>
    /// <param name="timeout">How long to wait at most.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <param name="timeProvider">Clock for the deadline; null for the system clock.</param>
    /// <returns>The lease; dispose it to release.</returns>
    /// <exception cref="LabException">Another process held the lease for longer than <paramref name="timeout"/>.</exception>
    public static async Task<LabLease> AcquireAsync(TimeSpan timeout, CancellationToken cancellationToken = default, TimeProvider? timeProvider = null)
    {
        var time = timeProvider ?? TimeProvider.System;
        var deadline = time.GetUtcNow() + timeout;
        while (true)
        {
            if (TryAcquire() is { } lease)
            {
                return lease;
            }

            if (time.GetUtcNow() > deadline)
            {
                throw new LabException($"Another process has held the lab lease ({LockFile}) for more than {timeout.TotalSeconds:0}s (a test run or a demo); the lab's fixed addresses allow one lab at a time.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the lease when it is free.</summary>
    /// <returns>The lease, or null when another process (or another lease of this process) holds it.</returns>
    public static LabLease? TryAcquire()
    {
        try
        {
            var stream = new FileStream(LockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            lock (Gate)
            {
                _heldByThisProcess++;
            }

            return new LabLease(stream);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Releases the lease.</summary>
    public void Dispose()
    {
        var stream = Interlocked.Exchange(ref _stream, null);
        if (stream is null)
        {
            return;
        }

        stream.Dispose();
        lock (Gate)
        {
            _heldByThisProcess--;
        }
    }
}
