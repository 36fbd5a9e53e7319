using System.Text.Json.Nodes;

namespace JailWorkflows.Engine.Definitions;

/// <summary>A workflow definition as stored in <c>workflows/*.json</c> (DESIGN.md D8), after validation.</summary>
/// <param name="Id">Definition id (e.g. <c>consolidate-server</c>).</param>
/// <param name="Version">Version, 1 or more.</param>
/// <param name="Title">Short title; may be null.</param>
/// <param name="Description">Longer description; may be null.</param>
/// <param name="Steps">The steps, in definition order: every step comes after the steps it runs after (<see cref="StepDocument.After"/>), so the
/// first is the start; steps of parallel branches are in any order between their fork and their join.</param>
/// <param name="Json">The exact JSON text this was read from (stored with instances so the version is pinned).</param>
public sealed record WorkflowDocument(string Id, int Version, string? Title, string? Description, IReadOnlyList<StepDocument> Steps, string Json)
{
    /// <summary>What one instance works on (the definition's <c>scope</c>); default <see cref="DefinitionScope.Server"/>.</summary>
    public DefinitionScope Scope { get; init; } = DefinitionScope.Server;

    /// <summary>The steps that run right after a step (those whose <see cref="StepDocument.After"/> names it), in definition
    /// order: none for the last step, several for a fork (its branches run in parallel).</summary>
    /// <param name="stepId">A step id of this definition.</param>
    /// <returns>The successors.</returns>
    /// <exception cref="KeyNotFoundException">No step has that id.</exception>
    public IReadOnlyList<StepDocument> Successors(string stepId)
    {
        _ = IndexOf(stepId);
        return Steps.Where(s => s.After.Contains(stepId, StringComparer.Ordinal)).ToList();
    }

    /// <summary>Every step that runs after a step, directly or later (reachable along <see cref="StepDocument.After"/>), in
    /// definition order; steps in a parallel branch beside it are not among them.</summary>
    /// <param name="stepId">A step id of this definition.</param>
    /// <returns>The later steps.</returns>
    /// <exception cref="KeyNotFoundException">No step has that id.</exception>
    public IReadOnlyList<StepDocument> StepsAfter(string stepId)
    {
        var later = new HashSet<string>(StringComparer.Ordinal) { Steps[IndexOf(stepId)].Id };
        var result = new List<StepDocument>();
        foreach (var step in Steps)
        {
            if (step.After.Any(later.Contains))
            {
                later.Add(step.Id);
                result.Add(step);
            }
        }

        return result;
    }

    /// <summary>The index in <see cref="Steps"/> of a step (also its WorkflowCore step id).</summary>
    /// <param name="stepId">A step id.</param>
    /// <returns>The index.</returns>
    /// <exception cref="KeyNotFoundException">No step has that id.</exception>
    public int IndexOf(string stepId)
    {
        for (var i = 0; i < Steps.Count; i++)
        {
            if (Steps[i].Id == stepId)
            {
                return i;
            }
        }

        throw new KeyNotFoundException($"Workflow definition '{Id}' v{Version} has no step '{stepId}'.");
    }
}

/// <summary>What one instance of a definition works on.</summary>
public enum DefinitionScope
{
    /// <summary>One source server of the plan and its jail: one instance per server (<c>jailwf run</c> starts one each).</summary>
    Server,

    /// <summary>The plan's jail host itself (e.g. its world build): one instance per plan, with no server of its own
    /// (<see cref="Activities.ConsolidationData.Server"/> is empty).</summary>
    JailHost,
}

/// <summary>One step of a definition.</summary>
/// <param name="Id">Step id, unique in the definition.</param>
/// <param name="Activity">The activity name from <see cref="Activities.ActivityCatalog"/>.</param>
/// <param name="Title">Title for people; defaults to the id.</param>
/// <param name="Inputs">The activity's inputs (validated against its input schema).</param>
/// <param name="Retry">The step's retry policy: the activity's default (<see cref="Activities.ActivityDescriptor.Retry"/>) with the definition's <c>retry</c> fields.</param>
public sealed record StepDocument(string Id, string Activity, string Title, JsonObject Inputs, Activities.RetryPolicy Retry)
{
    /// <summary>The ids of the steps this one runs after (its <c>after</c> field; when that is left out, the previous step of the
    /// definition); empty for the first step. It starts once all of them have ended. Default: empty.</summary>
    public IReadOnlyList<string> After { get; init; } = [];
}

/// <summary>One problem found in a workflow definition.</summary>
/// <param name="Field">Where: a JSON path such as <c>steps[2].activity</c>.</param>
/// <param name="Message">What is wrong.</param>
public sealed record DefinitionError(string Field, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>A workflow definition is invalid; nothing was registered or started.</summary>
public sealed class DefinitionValidationException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">The file or name the definition came from.</param>
    /// <param name="errors">Every problem found (at least one).</param>
    public DefinitionValidationException(string source, IReadOnlyList<DefinitionError> errors)
        : base($"Workflow definition {source} is invalid:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", errors))
    {
        Source = source;
        Errors = errors;
    }

    /// <summary>The file or name the definition came from.</summary>
    public new string Source { get; }

    /// <summary>Every problem found.</summary>
    public IReadOnlyList<DefinitionError> Errors { get; }
}
