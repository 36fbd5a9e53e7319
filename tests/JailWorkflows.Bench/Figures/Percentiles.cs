namespace JailWorkflows.Bench.Figures;

/// <summary>Percentiles of measured durations (nearest-rank).</summary>
internal static class Percentiles
{
    /// <summary>The <paramref name="p"/>-th percentile (0..100) of <paramref name="values"/> by nearest rank.</summary>
    /// <exception cref="ArgumentException">No values, or p outside 0..100.</exception>
    public static double Of(IReadOnlyCollection<double> values, double p)
    {
        if (values.Count == 0 || p is < 0 or > 100)
        {
            throw new ArgumentException("need values and 0 <= p <= 100", nameof(values));
        }

        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
