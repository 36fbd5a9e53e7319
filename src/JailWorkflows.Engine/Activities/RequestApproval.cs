using JailWorkflows.Engine.Store;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Waits for a person's go-ahead (<c>jailwf approve</c>, <see cref="JailwfEngine.ApproveAsync"/>): journals what is to be
/// approved (<see cref="JournalEntryKind.ApprovalRequested"/>), keeps it in the checkpoint (<see cref="SubjectKey"/>, shown
/// by <see cref="InstanceQueries.PendingApproval"/>) and waits for the event <see cref="MergeEtc.ApprovalEvent"/> with key
/// <c>&lt;instance&gt;:&lt;step&gt;</c>. With the input <c>cutover</c> it asks for the cutover's downtime ("stop &lt;services&gt; on
/// &lt;server&gt; and apply the level-1 delta of &lt;partitions&gt;"), and is a journaled no-op when the server's plan asks for
/// no cutover (<see cref="Plans.SourceServerSpec.Cutover"/>), so one definition serves both kinds of plan.
/// </summary>
/// <remarks>Recovery: asks the operator; a rerun before the approval waits again, after it proceeds.</remarks>
public sealed class RequestApproval(ActivityServices services) : Activity(services)
{
    /// <summary>Key of <see cref="ActivityState.Values"/> holding what the approval is asked for, as one line of text.</summary>
    public const string SubjectKey = "approval.subject";

    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var forCutover = (bool?)run.Inputs["cutover"] ?? false;
        switch (run.State.Phase)
        {
            case "":
                if (forCutover && !run.Server.Cutover)
                {
                    await run.JournalAsync(JournalEntryKind.Info, $"not requested: the plan asks for no cutover of {run.Server.Name} (cutover: false), so nothing waits for an approval").ConfigureAwait(false);
                    return ExecutionResult.Next();
                }

                var subject = (string?)run.Inputs["subject"] ?? string.Empty;
                if (forCutover)
                {
                    var scope = await Cutover.ScopeAsync(run).ConfigureAwait(false);
                    subject = Cutover.Subject(run, scope) + (subject.Length > 0 ? $" ({subject})" : string.Empty);
                }
                else if (subject.Length == 0)
                {
                    subject = $"continue the consolidation of {run.Server.Name}";
                }

                run.State.Values[SubjectKey] = subject;
                run.State.Phase = "approval";
                await run.JournalAsync(JournalEntryKind.ApprovalRequested, $"waits for approval: {subject}; continue with: jailwf approve {run.InstanceId} --reason ...").ConfigureAwait(false);
                return run.WaitForEvent(MergeEtc.ApprovalEvent, MergeEtc.ApprovalKey(run.InstanceId, run.StepId));
            case "approval":
                if (!run.EventPublished)
                {
                    return run.WaitForEvent(MergeEtc.ApprovalEvent, MergeEtc.ApprovalKey(run.InstanceId, run.StepId));
                }

                await run.JournalAsync(JournalEntryKind.Info, $"approval received: {run.State.Values.GetValueOrDefault(SubjectKey, string.Empty)}{(run.EventData is string reason && reason.Length > 0 ? $" (reason: {reason})" : string.Empty)}").ConfigureAwait(false);
                return ExecutionResult.Next();
            default:
                throw new InvalidOperationException($"RequestApproval: unknown phase '{run.State.Phase}' in the checkpoint.");
        }
    }
}
