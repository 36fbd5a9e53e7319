namespace JailWorkflows.Engine.Store;

/// <summary>What a <see cref="JournalEntry"/> records. Stored by name (text), so values may be added but never renamed.</summary>
public enum JournalEntryKind
{
    /// <summary>An activity (workflow step) began or resumed.</summary>
    StepStarted,

    /// <summary>An activity finished successfully.</summary>
    StepFinished,

    /// <summary>An activity failed; <see cref="JournalEntry.Message"/> says why.</summary>
    StepFailed,

    /// <summary>A host job was started; <see cref="JournalEntry.JobId"/> names it.</summary>
    JobStarted,

    /// <summary>A host job ended; <see cref="JournalEntry.ExitStatus"/> holds its exit status.</summary>
    JobFinished,

    /// <summary>One line of a host job's output.</summary>
    JobOutput,

    /// <summary>Informational.</summary>
    Info,

    /// <summary>Something unusual that did not stop the workflow.</summary>
    Warning,

    /// <summary>An error.</summary>
    Error,

    /// <summary>A person acted on the instance (approval, incident decision, suspend, resume, terminate).</summary>
    OperatorAction,

    /// <summary>How far a host job is, read from its output (e.g. dump(8)'s <c>45.23% done, finished in 0:10</c>): the message
    /// names the item, the percent done and the time left. At most one per poll.</summary>
    Progress,

    /// <summary>The instance waits for a person's approval (<c>jailwf approve</c>); the message names what to look at.</summary>
    ApprovalRequested,

    /// <summary>A step failed for good and waits for a decision; the message names the error (see the Incidents table).</summary>
    Incident,

    /// <summary>An operator skipped the step (<c>jailwf skip</c>); it did not run to its end.</summary>
    StepSkipped,
}

/// <summary>
/// One row of the journal: the append-only record of what happened to a workflow instance.
/// Rows are never changed after <see cref="Journal.AppendAsync"/>.
/// </summary>
public sealed class JournalEntry
{
    /// <summary>The row id, assigned by the store on append: strictly increasing, never reused. 0 before appending.</summary>
    public long Id { get; set; }

    /// <summary>The workflow instance the entry belongs to.</summary>
    public required string InstanceId { get; set; }

    /// <summary>When it happened, UTC (<see cref="DateTimeKind.Utc"/>). Left at <c>default</c>, the journal sets it on append.</summary>
    public DateTime Timestamp { get; set; }

    /// <summary>The activity (step name) the entry is about, or null for the instance as a whole.</summary>
    public string? Step { get; set; }

    /// <summary>What the entry records.</summary>
    public JournalEntryKind Kind { get; set; }

    /// <summary>The text: a human-readable message or, for <see cref="JournalEntryKind.JobOutput"/>, one output line without its newline.</summary>
    public required string Message { get; set; }

    /// <summary>The host job the entry is about, or null.</summary>
    public string? JobId { get; set; }

    /// <summary>A host job's exit status (<see cref="JournalEntryKind.JobFinished"/>), or null.</summary>
    public int? ExitStatus { get; set; }
}
