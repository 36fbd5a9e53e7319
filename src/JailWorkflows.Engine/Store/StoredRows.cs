using WorkflowCore.Models;

namespace JailWorkflows.Engine.Store;

// Row types of WorkflowCore's state. Internal: the public face is WorkflowCore's own model, through
// SqlitePersistenceProvider. Object fields hold StoredObjectCodec envelopes; lists hold JSON arrays.

/// <summary>A workflow instance (table WorkflowInstances).</summary>
internal sealed class WorkflowInstanceRow
{
    public required string Id { get; set; }
    public required string WorkflowDefinitionId { get; set; }
    public int Version { get; set; }
    public string? Description { get; set; }
    public string? Reference { get; set; }

    /// <summary>UTC ticks of the next run, or null when nothing is due.</summary>
    public long? NextExecution { get; set; }
    public WorkflowStatus Status { get; set; }
    public string? Data { get; set; }
    public DateTime CreateTime { get; set; }
    public DateTime? CompleteTime { get; set; }
    public List<ExecutionPointerRow> ExecutionPointers { get; set; } = [];
}

/// <summary>An execution pointer (table ExecutionPointers, key InstanceId + Id).</summary>
internal sealed class ExecutionPointerRow
{
    public required string InstanceId { get; set; }
    public required string Id { get; set; }

    /// <summary>Position in the instance's pointer collection (insertion order).</summary>
    public int Ordinal { get; set; }
    public int StepId { get; set; }
    public string? StepName { get; set; }
    public bool Active { get; set; }
    public PointerStatus Status { get; set; }
    public DateTime? SleepUntil { get; set; }
    public string? PersistenceData { get; set; }
    public DateTime? StartTime { get; set; }
    public DateTime? EndTime { get; set; }
    public string? EventName { get; set; }
    public string? EventKey { get; set; }
    public bool EventPublished { get; set; }
    public string? EventData { get; set; }
    public string? ExtensionAttributes { get; set; }
    public int RetryCount { get; set; }
    public string? Children { get; set; }
    public string? ContextItem { get; set; }
    public string? PredecessorId { get; set; }
    public string? Outcome { get; set; }
    public string? Scope { get; set; }
}

/// <summary>An event subscription (table EventSubscriptions).</summary>
internal sealed class EventSubscriptionRow
{
    public required string Id { get; set; }
    public string? WorkflowId { get; set; }
    public int StepId { get; set; }
    public string? ExecutionPointerId { get; set; }
    public string? EventName { get; set; }
    public string? EventKey { get; set; }
    public DateTime SubscribeAsOf { get; set; }
    public string? SubscriptionData { get; set; }
    public string? ExternalToken { get; set; }
    public string? ExternalWorkerId { get; set; }
    public DateTime? ExternalTokenExpiry { get; set; }
}

/// <summary>A published event (table Events).</summary>
internal sealed class EventRow
{
    public required string Id { get; set; }
    public string? EventName { get; set; }
    public string? EventKey { get; set; }
    public string? EventData { get; set; }
    public DateTime EventTime { get; set; }
    public bool IsProcessed { get; set; }
}

/// <summary>A scheduled command (table ScheduledCommands, unique on CommandName + Data).</summary>
internal sealed class ScheduledCommandRow
{
    public long Id { get; set; }
    public required string CommandName { get; set; }
    public required string Data { get; set; }

    /// <summary>UTC ticks.</summary>
    public long ExecuteTime { get; set; }
}

/// <summary>An execution error (table ExecutionErrors).</summary>
internal sealed class ExecutionErrorRow
{
    public long Id { get; set; }
    public string? WorkflowId { get; set; }
    public string? ExecutionPointerId { get; set; }
    public DateTime ErrorTime { get; set; }
    public string? Message { get; set; }
}
