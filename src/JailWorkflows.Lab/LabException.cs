namespace JailWorkflows.Lab;

/// <summary>The lab could not be brought up, inspected or torn down; the message says what to do.</summary>
public sealed class LabException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LabException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong and what to do.</param>
    public LabException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What went wrong and what to do.</param>
    /// <param name="innerException">The cause.</param>
    public LabException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
