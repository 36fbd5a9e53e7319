namespace JailWorkflows.Engine;

/// <summary>
/// An open incident that keeps a suspended instance suspended after a decision on another one: when parallel branches failed
/// each, the instance runs again only once every failed branch's incident has a decision.
/// </summary>
/// <param name="Incident">The incident's id (<see cref="Store.Incident.Id"/>).</param>
/// <param name="Step">Its failed step (the step id in the definition).</param>
public sealed record HoldingIncident(long Incident, string Step);

/// <summary>
/// What a decision on a suspended instance did (<see cref="JailwfEngine.RetryAsync"/>, <see cref="JailwfEngine.SkipAsync"/>,
/// <see cref="JailwfEngine.ResumeAsync"/>): the decision is about the oldest open incident.
/// </summary>
/// <param name="Step">The step decided: that of the oldest open incident (the step id in the definition).</param>
/// <param name="SuspendedBy">
/// The other failed branches' incidents still open, oldest first, that keep the instance suspended until each has a decision
/// too; empty when the instance is runnable now.
/// </param>
public sealed record DecisionResult(string Step, IReadOnlyList<HoldingIncident> SuspendedBy)
{
    /// <summary>Whether the instance is runnable now (no other open incident holds it suspended).</summary>
    public bool Runnable => SuspendedBy.Count == 0;
}

/// <summary>What <see cref="JailwfEngine.ResumeAsync"/> did.</summary>
/// <param name="Decision">
/// The decision on the suspended instance's oldest open incident (closed as resumed), or null when the instance was runnable
/// already (interrupted: nothing was decided; a running engine continues it).
/// </param>
public sealed record ResumeResult(DecisionResult? Decision)
{
    /// <summary>Whether the instance was runnable already (not suspended): nothing was decided.</summary>
    public bool WasRunnable => Decision is null;

    /// <summary>The step resumed (that of the oldest open incident), or null when the instance was runnable already.</summary>
    public string? Step => Decision?.Step;

    /// <summary>The incidents still open that keep the instance suspended, oldest first; empty when it is runnable now.</summary>
    public IReadOnlyList<HoldingIncident> SuspendedBy => Decision?.SuspendedBy ?? [];

    /// <summary>Whether the instance is runnable now (it was already, or no other open incident holds it suspended).</summary>
    public bool Runnable => Decision?.Runnable ?? true;
}
