using System.Globalization;

namespace JailWorkflows.Engine;

/// <summary>Another instance, not finished, already consolidates the same server into the same jail.</summary>
public sealed class InstanceConflictException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="instanceId">The instance already at work.</param>
    /// <param name="message">The message, naming the instance and what to do.</param>
    public InstanceConflictException(string instanceId, string message)
        : base(message) => InstanceId = instanceId;

    /// <summary>The instance already at work.</summary>
    public string InstanceId { get; }
}

/// <summary>Another engine process holds the database (DESIGN.md D7: one engine per database file).</summary>
public sealed class EngineLockedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="databasePath">The database.</param>
    /// <param name="holder">What the lock file says about the holder (pid and start time), if readable.</param>
    public EngineLockedException(string databasePath, string holder)
        : base($"Another JailWorkflows engine is using {databasePath} ({holder}). Stop it, or use --db for another database.")
    {
        DatabasePath = databasePath;
        Holder = holder;
    }

    /// <summary>The database.</summary>
    public string DatabasePath { get; }

    /// <summary>The holder as recorded in the lock file.</summary>
    public string Holder { get; }
}

/// <summary>
/// An exclusive lock on <c>&lt;database&gt;.lock</c> (flock(2) through FileShare.None), held while an engine
/// runs. The kernel releases it when the process dies, even by SIGKILL, so a crashed engine never blocks the next.
/// </summary>
internal sealed class EngineLock : IDisposable
{
    private readonly FileStream _stream;

    private readonly string _holderPath;

    private EngineLock(FileStream stream, string holderPath)
    {
        _stream = stream;
        _holderPath = holderPath;
    }

    public static EngineLock Acquire(string databasePath, TimeProvider time)
    {
        var full = Path.GetFullPath(databasePath);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var lockPath = full + ".lock";
        FileStream stream;
        try
        {
            stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            string holder;
            try
            {
                holder = File.ReadAllText(HolderPath(full)).Trim();
            }
            catch (IOException)
            {
                holder = "holder unknown";
            }

            throw new EngineLockedException(full, holder.Length == 0 ? "holder unknown" : holder);
        }

        // The lock file itself cannot be read by others while it is locked: the holder is named beside it.
        File.WriteAllText(HolderPath(full), string.Create(CultureInfo.InvariantCulture, $"pid {Environment.ProcessId}, started {time.GetUtcNow():O}"));
        return new EngineLock(stream, HolderPath(full));
    }

    /// <summary>The file naming the lock's holder, beside the lock file (the locked file cannot be read by others).</summary>
    private static string HolderPath(string fullDatabasePath) => fullDatabasePath + ".lock.holder";

    public void Dispose()
    {
        // The holder file goes first, while the lock is still held: readers see no engine once it is released.
        try
        {
            File.Delete(_holderPath);
        }
        catch (IOException)
        {
        }

        _stream.Dispose();
    }

    /// <summary>
    /// Whether an engine holds the database now, without touching the lock (probing it would make a starting engine fail):
    /// the holder file names a pid that is alive and started no later than the lock was taken (a reused pid started later).
    /// </summary>
    /// <param name="databasePath">The database.</param>
    /// <returns>The holder's description (pid and start time), or null when no engine runs.</returns>
    public static string? LiveHolder(string databasePath)
    {
        string text;
        try
        {
            text = File.ReadAllText(HolderPath(Path.GetFullPath(databasePath))).Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        var parts = text.Split(", started ", 2);
        if (parts.Length != 2 || !parts[0].StartsWith("pid ", StringComparison.Ordinal)
            || !int.TryParse(parts[0][4..], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || !DateTimeOffset.TryParse(parts[1], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var locked))
        {
            return null;
        }

        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.HasExited || process.StartTime.ToUniversalTime() > locked.UtcDateTime.AddSeconds(1) ? null : text;
        }
        catch (ArgumentException)
        {
            return null; // no such process
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
