using System.ComponentModel.DataAnnotations;

namespace JailWorkflows.Engine;

/// <summary>Options of the JailWorkflows engine, validated when it starts.</summary>
public sealed class EngineOptions
{
    /// <summary>The default database path: <c>~/.local/state/jailwf/jailwf.db</c> (XDG state directory).</summary>
    public static string DefaultDatabasePath =>
        Path.Combine(
            Environment.GetEnvironmentVariable("XDG_STATE_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state"),
            "jailwf",
            "jailwf.db");

    /// <summary>The SQLite database file (created with its directory when missing). Default <see cref="DefaultDatabasePath"/>.</summary>
    [Required]
    public string DatabasePath { get; set; } = DefaultDatabasePath;

    /// <summary>The directory of workflow definitions (<c>*.json</c>). Default: <c>workflows</c> beside the program.</summary>
    [Required]
    public string WorkflowsDirectory { get; set; } = Path.Combine(AppContext.BaseDirectory, "workflows");

    /// <summary>How often a step polls its host job. Default 5 s; 0.2 s to 10 min.</summary>
    [Range(typeof(TimeSpan), "00:00:00.2", "00:10:00")]
    public TimeSpan JobPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the engine looks for runnable instances in the store. Default 1 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:01:00")]
    public TimeSpan StorePollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many times in a row a step retries a host that cannot be reached (5 s backoff, doubling, at most 5 min) before it becomes an incident. Default 10 (about half an hour); 0 to 1000.</summary>
    [Range(0, 1000)]
    public int UnreachableRetries { get; set; } = 10;

    /// <summary>
    /// Whether the engine runs instances (starts WorkflowCore's host). False for an engine that only takes an operator
    /// action (e.g. <c>jailwf abort</c>) under the database lock without running any step. Default true.
    /// </summary>
    public bool RunInstances { get; set; } = true;

    /// <summary>Validates the options.</summary>
    /// <exception cref="ValidationException">An option is out of range or missing; the message names it.</exception>
    public void Validate() => Validator.ValidateObject(this, new ValidationContext(this), validateAllProperties: true);
}
