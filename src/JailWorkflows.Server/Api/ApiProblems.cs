using JailWorkflows.Engine.Definitions;
using JailWorkflows.Plans;
using Microsoft.AspNetCore.Http;

namespace JailWorkflows.Server.Api;

/// <summary>Errors of the HTTP API as RFC 9457 problem details (docs/api.md: <c>kind</c>, <c>errors</c>, <c>problems</c>).</summary>
internal static class ApiProblems
{
    /// <summary>The problem for an error: invalid definitions and plans are 422 with <c>errors</c> naming each field; the rest as <see cref="ControlApi.Classify"/> says.</summary>
    public static IResult From(Exception exception) => exception switch
    {
        DefinitionGraphException graph => Validation(
            "Invalid workflow definition",
            graph.Problems.GroupBy(p => p.Field).ToDictionary(g => g.Key, g => g.Select(p => p.Message).ToArray()),
            StatusCodes.Status422UnprocessableEntity,
            graph.Message,
            graph.Problems),
        DefinitionValidationException definition => Validation(
            "Invalid workflow definition",
            definition.Errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
            StatusCodes.Status422UnprocessableEntity,
            definition.Message),
        PlanValidationException plan => Validation(
            "Invalid plan",
            new Dictionary<string, string[]> { ["plan"] = plan.Errors.Select(e => e.ToString()).ToArray() },
            StatusCodes.Status422UnprocessableEntity,
            plan.Message),
        _ => Classified(exception),
    };

    /// <summary>A validation problem: <c>errors</c> maps each field to its messages.</summary>
    public static IResult Validation(string title, IDictionary<string, string[]> errors, int status, string? detail = null, IReadOnlyList<DefinitionProblem>? problems = null)
    {
        var extensions = new Dictionary<string, object?> { ["kind"] = "bad-input" };
        if (problems is not null)
        {
            extensions["problems"] = problems;
        }

        return Results.ValidationProblem(errors, detail ?? string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(", ", e.Value)}")), statusCode: status, title: title, extensions: extensions);
    }

    private static IResult Classified(Exception exception)
    {
        var (kind, status, title) = ControlApi.Classify(exception);
        return Results.Problem(detail: exception.Message, statusCode: status, title: title, extensions: new Dictionary<string, object?> { ["kind"] = kind });
    }
}
