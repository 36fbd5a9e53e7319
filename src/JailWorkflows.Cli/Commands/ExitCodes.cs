using System.ComponentModel.DataAnnotations;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Definitions;
using JailWorkflows.Hosts;
using JailWorkflows.Plans;
using Spectre.Console;

namespace JailWorkflows.Cli.Commands;

/// <summary>jailwf's exit codes and how errors are reported.</summary>
internal static class ExitCodes
{
    /// <summary>A workflow instance failed (suspended with an incident) or did not finish.</summary>
    public const int WorkflowFailed = 1;

    /// <summary>Bad input: plan, definition, arguments.</summary>
    public const int BadInput = 2;

    /// <summary>A host could not be reached or presented a wrong key.</summary>
    public const int HostProblem = 3;

    /// <summary>An instance waits for a person's approval (<c>jailwf approve</c>); nothing failed.</summary>
    public const int WaitsForApproval = 4;

    /// <summary>Anything else.</summary>
    public const int InternalError = 70;

    /// <summary>Prints an error without a stack trace for the errors people cause, and returns its exit code.</summary>
    public static int Report(Exception ex)
    {
        var (code, title) = ex switch
        {
            JailWorkflows.Server.ServeProblemException p => (p.Kind switch { "bad-input" or "not-found" or "refused" => BadInput, "host" => HostProblem, _ => InternalError }, p.Title),
            PlanValidationException => (BadInput, "Invalid plan"),
            DefinitionValidationException => (BadInput, "Invalid workflow definition"),
            ValidationException => (BadInput, "Invalid option"),
            NotAwaitingApprovalException => (BadInput, "Nothing to approve"),
            InstanceStateException => (BadInput, "Refused"),
            KeyNotFoundException => (BadInput, "Not found"),
            InstanceConflictException => (BadInput, "Refused"),
            FileNotFoundException => (BadInput, "Not found"),
            ArgumentException => (BadInput, "Invalid argument"),
            Spectre.Console.Cli.CommandParseException or Spectre.Console.Cli.CommandRuntimeException => (BadInput, "Invalid command line"),
            HostKeyMismatchException => (HostProblem, "Host key mismatch"),
            HostUnreachableException => (HostProblem, "Host unreachable"),
            EngineLockedException => (HostProblem, "Database in use"),
            OperationCanceledException => (130, "Cancelled"),
            _ => (InternalError, "Internal error"),
        };
        Consoles.Error.MarkupLine($"[red]{Markup.Escape(title)}:[/] {Markup.Escape(ex.Message)}");
        if (code == InternalError)
        {
            Consoles.Error.WriteLine(ex.ToString());
        }

        return code;
    }
}
