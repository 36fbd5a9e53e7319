namespace JailWorkflows.Engine.Store;

/// <summary>
/// One registered version of a workflow definition, kept so that instances pinned to it can be
/// registered with WorkflowCore again when the engine starts (WorkflowCore keeps definitions in memory only).
/// A version is immutable once stored.
/// </summary>
public sealed class DefinitionVersion
{
    /// <summary>The workflow definition id (WorkflowCore's <c>WorkflowDefinitionId</c>).</summary>
    public required string DefinitionId { get; set; }

    /// <summary>The definition version (WorkflowCore's <c>Version</c>).</summary>
    public int Version { get; set; }

    /// <summary>The definition document (JSON, as in <c>workflows/</c>).</summary>
    public required string Json { get; set; }

    /// <summary>When the version was first stored, UTC (<see cref="DateTimeKind.Utc"/>).</summary>
    public DateTime RegisteredAt { get; set; }
}
