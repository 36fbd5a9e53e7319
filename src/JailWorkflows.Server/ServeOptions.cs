using System.ComponentModel.DataAnnotations;
using JailWorkflows.Engine;

namespace JailWorkflows.Server;

/// <summary>Options of <c>jailwf serve</c> (the engine, its schedules and its control socket), validated at start.</summary>
public sealed class ServeOptions
{
    /// <summary>The engine's options (database, definitions, poll intervals); validated with these.</summary>
    [Required]
    public EngineOptions Engine { get; set; } = new();

    /// <summary>The engine's database (<see cref="EngineOptions.DatabasePath"/>).</summary>
    public string DatabasePath => Engine.DatabasePath;

    /// <summary>How often a queued scheduled run (overlap policy queue) looks whether the run before it has ended. Default 1 min; 0.1 s to 1 h.</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "01:00:00")]
    public TimeSpan QueueRecheckInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How late a schedule's fire may be before it counts as missed (Quartz's misfire threshold) and its misfire policy
    /// decides. Default 1 min; 0.1 s to 1 h.</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "01:00:00")]
    public TimeSpan MisfireThreshold { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The longest the scheduler waits before it looks at the schedules again (Quartz's idle wait). Default 30 s; 1 s (Quartz's least) to 5 min.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan SchedulerIdleWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The Quartz scheduler's name, kept in every row of its tables: the same across restarts. Default <c>jailwf</c>
    /// (tests that run several schedulers in one process give each its own).</summary>
    [Required]
    public string SchedulerName { get; set; } = "jailwf";

    /// <summary>
    /// Where the HTTP API (<see cref="Api.ApiHost"/>, docs/api.md) listens: Kestrel URLs on loopback addresses only
    /// (127.0.0.0/8, ::1, localhost); any other address is refused by <see cref="Validate"/>. Default
    /// <c>http://127.0.0.1:5080</c>; port 0 picks a free one. Empty: no HTTP API (the control socket only).
    /// </summary>
    public IList<string> Urls { get; init; } = ["http://127.0.0.1:5080"];

    /// <summary>
    /// The designer's built files (<c>designer/dist</c>), served at <c>/</c> when the directory exists. Default null: the first
    /// of <c>designer/dist</c> beside the program and <c>designer/dist</c> in the current directory that exists.
    /// </summary>
    public string? DesignerPath { get; set; }

    /// <summary>The API token file: <c>&lt;database&gt;.token</c> (mode 0600; see <see cref="TokenPathOf"/>).</summary>
    public string TokenPath => TokenPathOf(DatabasePath);

    /// <summary>Called once the HTTP API listens, with the addresses it listens on (tests use port 0 and read them here).</summary>
    internal Action<IReadOnlyList<string>>? ApiStarted { get; set; }

    /// <summary>The API token file of a database's serve.</summary>
    /// <param name="databasePath">The engine's database.</param>
    /// <returns><c>&lt;database&gt;.token</c>, absolute.</returns>
    public static string TokenPathOf(string databasePath) => Path.GetFullPath(databasePath) + ".token";

    /// <summary>The control socket: <c>&lt;database&gt;.sock</c> (a Unix domain socket, mode 0600, created by serve and removed when it stops).</summary>
    public string SocketPath => SocketPathOf(DatabasePath);

    /// <summary>The schedules database: <c>&lt;database&gt;.schedules</c> (Quartz's tables and the schedule journal; see <see cref="SchedulesPathOf"/>).</summary>
    public string SchedulesPath => SchedulesPathOf(DatabasePath);

    /// <summary>The control socket of a database's serve.</summary>
    /// <param name="databasePath">The engine's database.</param>
    /// <returns><c>&lt;database&gt;.sock</c>, absolute.</returns>
    public static string SocketPathOf(string databasePath) => Path.GetFullPath(databasePath) + ".sock";

    /// <summary>
    /// The schedules database beside the engine's: <c>&lt;database&gt;.schedules</c>. A file of its own because Quartz's ADO
    /// job store holds SQLite's one write lock for whole trigger acquisitions and firings (its own lock row and transactions),
    /// which in the engine's file would stall the journal and checkpoints of running steps; and because EF Core migrations own
    /// the engine's schema while Quartz's scripts own theirs, so neither tool ever sees the other's tables. Both files are
    /// covered by the engine's lock (one process at a time) and are backed up together.
    /// </summary>
    /// <param name="databasePath">The engine's database.</param>
    /// <returns>The path, absolute.</returns>
    public static string SchedulesPathOf(string databasePath) => Path.GetFullPath(databasePath) + ".schedules";

    /// <summary>Validates the options.</summary>
    /// <exception cref="ValidationException">An option is out of range or missing; the message names it.</exception>
    public void Validate()
    {
        Validator.ValidateObject(this, new ValidationContext(this), validateAllProperties: true);
        Engine.Validate();
        foreach (var url in Urls)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
            {
                throw new ValidationException($"--urls: '{url}' is not an http:// URL (e.g. http://127.0.0.1:5080).");
            }

            if (!Api.ApiHost.IsLoopback(uri.Host))
            {
                throw new ValidationException($"--urls: '{url}' is not a loopback address: the HTTP API listens on 127.0.0.0/8, ::1 or localhost only.");
            }
        }
    }
}
