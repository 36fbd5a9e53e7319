using System.Text.Json.Nodes;
using JailWorkflows.Engine.Activities;
using WorkflowCore.Interface;
using WorkflowCore.Models;
using Sequence = WorkflowCore.Primitives.Sequence;

namespace JailWorkflows.Engine.Definitions;

/// <summary>Turns a validated <see cref="WorkflowDocument"/> into a WorkflowCore <see cref="WorkflowDefinition"/>.</summary>
public static class DefinitionCompiler
{
    /// <summary>
    /// Compiles a definition: one WorkflowCore step per definition step, with the definition index as its step id; each
    /// step's body is its activity, receives its inputs, retry policy and the activities of the steps after it in the graph,
    /// and suspends the instance when it fails for good (an incident: the activity base retries under the step's
    /// <see cref="RetryPolicy"/> first; WorkflowCore's own retry is not used). A step runs after the one before it in its
    /// series; a fork is followed by a WorkflowCore <see cref="Sequence"/> container (ids after the definition's steps) whose
    /// children are the first steps of the branches, which run in parallel with their pointers scoped to it; it ends when
    /// every pointer of its branches has ended, and then the join step runs. A linear definition compiles as before: steps
    /// 0..n-1 chained by their outcomes.
    /// </summary>
    /// <param name="document">The validated definition.</param>
    /// <returns>The WorkflowCore definition (id and version as in the document, data type <see cref="ConsolidationData"/>).</returns>
    /// <exception cref="DefinitionValidationException">The document's step graph is not structured fork/join (a document from
    /// <see cref="DefinitionLoader"/> never is).</exception>
    public static WorkflowDefinition Compile(WorkflowDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var definition = new WorkflowDefinition
        {
            Id = document.Id,
            Version = document.Version,
            Description = document.Description ?? document.Title ?? document.Id,
            DataType = typeof(ConsolidationData),
            DefaultErrorBehavior = WorkflowErrorHandling.Suspend,
        };

        var index = document.Steps.Select((s, i) => (s.Id, i)).ToDictionary(x => x.Id, x => x.i, StringComparer.Ordinal);
        var (series, errors) = StepGraph.Analyze(document.Steps.Select(s => s.Id).ToList(), document.Steps.Select(s => (IReadOnlyList<int>)s.After.Select(a => index[a]).ToList()).ToList());
        if (series is null)
        {
            throw new DefinitionValidationException(document.Id, errors.Select(e => new DefinitionError($"steps[{e.Step}].after", e.Message)).ToList());
        }

        var ids = document.Steps.Select(s => s.Id).ToList();
        for (var i = 0; i < document.Steps.Count; i++)
        {
            var stepDoc = document.Steps[i];
            var descriptor = ActivityCatalog.All[stepDoc.Activity];
            var step = (WorkflowStep)Activator.CreateInstance(typeof(WorkflowStep<>).MakeGenericType(descriptor.BodyType))!;
            step.Id = i;
            step.Name = stepDoc.Title;
            step.ExternalId = stepDoc.Id;
            step.ErrorBehavior = WorkflowErrorHandling.Suspend;
            step.Inputs.Add(new InputsParameter(stepDoc.Id, stepDoc.Inputs, stepDoc.Retry, document.StepsAfter(stepDoc.Id).Select(s => s.Activity).ToList(), ids));
            definition.Steps.Add(step);
        }

        _ = Chain(series);
        return definition;

        // Links the elements of a series one after the other; returns the WorkflowCore id of its first element.
        int Chain(IReadOnlyList<GraphElement> elements)
        {
            var first = -1;
            WorkflowStep? previous = null;
            foreach (var element in elements)
            {
                WorkflowStep current;
                if (element is StepElement one)
                {
                    current = definition.Steps.FindById(one.Index);
                }
                else
                {
                    var parallel = (ParallelElement)element;
                    current = new WorkflowStep<Sequence>
                    {
                        Id = definition.Steps.Count,
                        Name = $"branches after {document.Steps[parallel.Fork].Id}",
                        ErrorBehavior = WorkflowErrorHandling.Suspend,
                    };
                    definition.Steps.Add(current);
                    foreach (var branch in parallel.Branches)
                    {
                        current.Children.Add(Chain(branch));
                    }
                }

                previous?.Outcomes.Add(new ValueOutcome { NextStep = current.Id });
                first = first < 0 ? current.Id : first;
                previous = current;
            }

            return first;
        }
    }

    /// <summary>Whether a WorkflowCore step of a compiled definition is one of the definition's steps (an activity), not a
    /// container that runs parallel branches.</summary>
    /// <param name="step">The step.</param>
    /// <returns>True for an activity step.</returns>
    public static bool IsActivityStep(WorkflowStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        return typeof(Activity).IsAssignableFrom(step.BodyType);
    }

    private sealed class InputsParameter(string stepId, JsonObject inputs, RetryPolicy retry, IReadOnlyList<string> laterActivities, IReadOnlyList<string> stepIds) : IStepParameter
    {
        public void AssignInput(object data, IStepBody body, IStepExecutionContext context)
        {
            var activity = (Activity)body;
            activity.StepId = stepId;
            activity.Inputs = (JsonObject)inputs.DeepClone();
            activity.Retry = retry;
            activity.LaterActivities = laterActivities;
            activity.DefinitionStepIds = stepIds;
        }

        public void AssignOutput(object data, IStepBody body, IStepExecutionContext context)
        {
        }
    }
}
