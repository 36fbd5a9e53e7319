using System.Text.Json.Nodes;
using JailWorkflows.Engine.Activities;
using WorkflowCore.Interface;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Definitions;

/// <summary>Turns a validated <see cref="WorkflowDocument"/> into a WorkflowCore <see cref="WorkflowDefinition"/>.</summary>
public static class DefinitionCompiler
{
    /// <summary>
    /// Compiles a definition: one WorkflowCore step per definition step, in order; each step's body is its
    /// activity, receives its inputs and retry policy, and suspends the instance when it fails for good (an incident:
    /// the activity base retries under the step's <see cref="RetryPolicy"/> first; WorkflowCore's own retry is not used).
    /// </summary>
    /// <param name="document">The validated definition.</param>
    /// <returns>The WorkflowCore definition (id and version as in the document, data type <see cref="ConsolidationData"/>).</returns>
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

        for (var i = 0; i < document.Steps.Count; i++)
        {
            var stepDoc = document.Steps[i];
            var descriptor = ActivityCatalog.All[stepDoc.Activity];
            var step = (WorkflowStep)Activator.CreateInstance(typeof(WorkflowStep<>).MakeGenericType(descriptor.BodyType))!;
            step.Id = i;
            step.Name = stepDoc.Title;
            step.ExternalId = stepDoc.Id;
            step.ErrorBehavior = WorkflowErrorHandling.Suspend;
            step.Inputs.Add(new InputsParameter(stepDoc.Id, stepDoc.Inputs, stepDoc.Retry));
            if (i + 1 < document.Steps.Count)
            {
                step.Outcomes.Add(new ValueOutcome { NextStep = i + 1 });
            }

            definition.Steps.Add(step);
        }

        return definition;
    }

    private sealed class InputsParameter(string stepId, JsonObject inputs, RetryPolicy retry) : IStepParameter
    {
        public void AssignInput(object data, IStepBody body, IStepExecutionContext context)
        {
            var activity = (Activity)body;
            activity.StepId = stepId;
            activity.Inputs = (JsonObject)inputs.DeepClone();
            activity.Retry = retry;
        }

        public void AssignOutput(object data, IStepBody body, IStepExecutionContext context)
        {
        }
    }
}
