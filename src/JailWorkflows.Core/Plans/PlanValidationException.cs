namespace JailWorkflows.Plans;

/// <summary>One problem found in a plan.</summary>
/// <param name="Field">The field path, e.g. <c>servers[1].jail.ip</c> or <c>jailHost.jailsDir</c>.</param>
/// <param name="Message">What is wrong, e.g. <c>'10.0.0.300' is not an IPv4 address</c> or <c>missing</c>.</param>
public sealed record PlanError(string Field, string Message)
{
    /// <summary><c>field: message</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Field + ": " + Message;
}

/// <summary>A plan file is not valid; carries every problem found, not just the first.</summary>
public sealed class PlanValidationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PlanValidationException()
        : this([])
    {
    }

    /// <summary>Creates the exception with a single message.</summary>
    /// <param name="message">The message.</param>
    public PlanValidationException(string message)
        : base(message)
    {
        Errors = [new PlanError("(plan)", message)];
    }

    /// <summary>Creates the exception with a single message and cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public PlanValidationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [new PlanError("(plan)", message)];
    }

    /// <summary>Creates the exception from the problems found.</summary>
    /// <param name="errors">Every problem, in document order.</param>
    /// <param name="source">The plan file, for the message; null when parsed from text.</param>
    public PlanValidationException(IReadOnlyList<PlanError> errors, string? source = null)
        : base(Describe(errors, source))
    {
        Errors = errors;
        PlanFile = source;
    }

    /// <summary>Every problem found, in document order.</summary>
    public IReadOnlyList<PlanError> Errors { get; }

    /// <summary>The plan file's path, or null.</summary>
    public string? PlanFile { get; }

    private static string Describe(IReadOnlyList<PlanError> errors, string? source) =>
        $"The plan{(source is null ? string.Empty : " " + source)} is not valid ({errors.Count} error{(errors.Count == 1 ? string.Empty : "s")}):"
        + string.Concat(errors.Select(e => Environment.NewLine + "  " + e));
}
