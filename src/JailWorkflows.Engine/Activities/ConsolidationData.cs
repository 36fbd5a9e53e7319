using JailWorkflows.Plans;

namespace JailWorkflows.Engine.Activities;

/// <summary>The data of a consolidation workflow instance: the plan it runs with and the server it consolidates.</summary>
public sealed class ConsolidationData
{
    /// <summary>The whole plan, copied into the instance when it starts (a later edit of the plan file does not change a running instance).</summary>
    public required Plan Plan { get; init; }

    /// <summary>The source server's name in <see cref="Plan"/>; empty for an instance of a jail host definition
    /// (<see cref="Definitions.DefinitionScope.JailHost"/>), which works on the jail host, not on one jail.</summary>
    public required string Server { get; init; }

    /// <summary>What started the instance when it was not a person, e.g. <c>schedule nightly-x fire 2026-12-01T01:00:00Z</c>
    /// (<see cref="JailwfEngine.StartRunAsync"/>): stored with the instance in the same write, so a start that is repeated
    /// after a crash finds it and starts nothing twice. Null for instances started by hand.</summary>
    public string? Origin { get; init; }
}

/// <summary>
/// An activity's checkpoint, stored as the execution pointer's persistence data (DESIGN.md D4): the phase it
/// reached, the partition index, the attempt, the host job it is waiting for and how much of that job's
/// output was already journaled.
/// </summary>
public sealed class ActivityState
{
    /// <summary>The activity's own phase name; empty at the start.</summary>
    public string Phase { get; set; } = string.Empty;

    /// <summary>The item index (the partition for TransferPartitions).</summary>
    public int Index { get; set; }

    /// <summary>The attempt at the current item, from 0.</summary>
    public int Attempt { get; set; }

    /// <summary>The host job being waited for, or null.</summary>
    public string? JobId { get; set; }

    /// <summary>Bytes of the job's output already journaled.</summary>
    public long OutputOffset { get; set; }

    /// <summary>Small named values the activity keeps (e.g. the jobs setting it started a build with).</summary>
    public Dictionary<string, string> Values { get; set; } = new(StringComparer.Ordinal);

    /// <summary>A deep copy.</summary>
    /// <returns>The copy.</returns>
    public ActivityState Clone() => new()
    {
        Phase = Phase,
        Index = Index,
        Attempt = Attempt,
        JobId = JobId,
        OutputOffset = OutputOffset,
        Values = new Dictionary<string, string>(Values, StringComparer.Ordinal),
    };
}
