namespace JailWorkflows.Bench;

/// <summary>
/// One figure JailWorkflows publishes (issue 7): it measures our side and its comparison in the same run, so a
/// noisy machine slows both, and reports each number with its ratio and target.
/// </summary>
internal abstract class Figure
{
    /// <summary>The name on the command line and the key of its section in the results page, e.g. <c>checkpoint</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The section's heading, e.g. "Checkpoint cost".</summary>
    public abstract string Title { get; }

    /// <summary>True when the figure needs the lab (its fixed loopback hosts and machine-wide lease).</summary>
    public virtual bool NeedsLab => false;

    /// <summary>Measures the figure.</summary>
    /// <param name="context">The run's options, output and working directories.</param>
    /// <param name="cancellationToken">Stops the measurement.</param>
    /// <returns>The measurements, each with its comparison.</returns>
    public abstract Task<FigureReport> RunAsync(BenchContext context, CancellationToken cancellationToken);
}

/// <summary>What one figure measured.</summary>
/// <param name="Measurements">The numbers.</param>
/// <param name="Method">How it was measured, in a few sentences (markdown), for the results page.</param>
/// <param name="Notes">What limits a figure that misses its target, or anything a reader must know (markdown); may be empty.</param>
internal sealed record FigureReport(IReadOnlyList<Measurement> Measurements, string Method, IReadOnlyList<string> Notes);

/// <summary>One number of a figure.</summary>
/// <param name="What">What was measured, e.g. "commit latency p50".</param>
/// <param name="Value">The value with its unit, e.g. "0.41 ms".</param>
/// <param name="Comparison">The comparison measured in the same run, e.g. "1.8x in-memory store"; null when none.</param>
/// <param name="Target">The target from issue 7, e.g. "&lt;= 2 ms"; null when none.</param>
/// <param name="Met">Whether the target is met; null when there is no target.</param>
internal sealed record Measurement(string What, string Value, string? Comparison = null, string? Target = null, bool? Met = null);
