using System.Text.Json.Nodes;

namespace JailWorkflows.Engine.Definitions;

/// <summary>A workflow definition as stored in <c>workflows/*.json</c> (DESIGN.md D8), after validation.</summary>
/// <param name="Id">Definition id (e.g. <c>consolidate-server</c>).</param>
/// <param name="Version">Version, 1 or more.</param>
/// <param name="Title">Short title; may be null.</param>
/// <param name="Description">Longer description; may be null.</param>
/// <param name="Steps">The steps, in execution order.</param>
/// <param name="Json">The exact JSON text this was read from (stored with instances so the version is pinned).</param>
public sealed record WorkflowDocument(string Id, int Version, string? Title, string? Description, IReadOnlyList<StepDocument> Steps, string Json)
{
    /// <summary>What one instance works on (the definition's <c>scope</c>); default <see cref="DefinitionScope.Server"/>.</summary>
    public DefinitionScope Scope { get; init; } = DefinitionScope.Server;
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
public sealed record StepDocument(string Id, string Activity, string Title, JsonObject Inputs, Activities.RetryPolicy Retry);

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
