using System.Globalization;
using System.Text.Json.Nodes;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// How often a failing step is tried again by itself before it becomes an incident (issue 4): at most
/// <see cref="MaxAttempts"/> attempts, the k-th (k &gt;= 2) after <c>min(MaxBackoff, Backoff * 2^(k-2))</c>.
/// Set per step in a definition (<c>"retry": { "maxAttempts", "backoffSeconds", "maxBackoffSeconds" }</c>);
/// each activity has a default in <see cref="ActivityCatalog"/>. Errors that need a person (bad input, a host key
/// mismatch, a dump that is not snapshot-consistent, a lost host job…) are never retried, whatever the policy.
/// WorkflowCore's own retry (unlimited, fixed interval) is not used.
/// </summary>
/// <param name="MaxAttempts">Attempts in all, 1 (never retried) to 100.</param>
/// <param name="Backoff">Wait before the second attempt; doubled for each later one. 0 to 1 day.</param>
/// <param name="MaxBackoff">The largest wait between two attempts. At least <paramref name="Backoff"/>, at most 1 day.</param>
public sealed record RetryPolicy(int MaxAttempts, TimeSpan Backoff, TimeSpan MaxBackoff)
{
    /// <summary>The default of most activities: 3 attempts, 30 s, then 60 s; waits capped at 10 min.</summary>
    public static RetryPolicy Default { get; } = new(3, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10));

    /// <summary>No automatic retry: the first failure is an incident.</summary>
    public static RetryPolicy Never { get; } = new(1, TimeSpan.Zero, TimeSpan.Zero);

    /// <summary>The wait before attempt <paramref name="attempt"/> (2 for the first retry).</summary>
    /// <param name="attempt">The attempt about to start, 2 or more.</param>
    /// <returns><c>min(MaxBackoff, Backoff * 2^(attempt-2))</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="attempt"/> is less than 2.</exception>
    public TimeSpan DelayBefore(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 2);
        var seconds = Backoff.TotalSeconds * Math.Pow(2, Math.Min(attempt - 2, 40));
        return TimeSpan.FromSeconds(Math.Min(MaxBackoff.TotalSeconds, seconds));
    }

    /// <summary>This policy with the fields a definition's <c>retry</c> object sets (already schema-validated).</summary>
    /// <param name="retry">The <c>retry</c> object of a step, or null for none.</param>
    /// <returns>The effective policy.</returns>
    /// <exception cref="ArgumentException">The resulting policy is out of range (e.g. maxBackoffSeconds below backoffSeconds); the message names the field.</exception>
    public RetryPolicy With(JsonObject? retry)
    {
        if (retry is null)
        {
            return this;
        }

        var result = this with
        {
            MaxAttempts = retry["maxAttempts"] is { } max ? (int)max : MaxAttempts,
            Backoff = retry["backoffSeconds"] is { } backoff ? TimeSpan.FromSeconds((double)backoff) : Backoff,
            MaxBackoff = retry["maxBackoffSeconds"] is { } cap ? TimeSpan.FromSeconds((double)cap) : MaxBackoff,
        };
        if (retry["maxBackoffSeconds"] is null && result.MaxBackoff < result.Backoff)
        {
            result = result with { MaxBackoff = result.Backoff };
        }

        if (result.MaxBackoff < result.Backoff)
        {
            throw new ArgumentException($"retry.maxBackoffSeconds ({result.MaxBackoff.TotalSeconds.ToString(CultureInfo.InvariantCulture)}) is below retry.backoffSeconds ({result.Backoff.TotalSeconds.ToString(CultureInfo.InvariantCulture)})", nameof(retry));
        }

        return result;
    }

    /// <summary>For people: e.g. <c>3 attempts, backoff 30 s (max 600 s)</c> or <c>never retried</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => MaxAttempts <= 1
        ? "never retried"
        : string.Create(CultureInfo.InvariantCulture, $"{MaxAttempts} attempts, backoff {Backoff.TotalSeconds:0.#} s (max {MaxBackoff.TotalSeconds:0.#} s)");
}
