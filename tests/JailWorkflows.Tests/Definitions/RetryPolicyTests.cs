using JailWorkflows.Engine.Activities;
using JailWorkflows.Engine.Definitions;
using JailWorkflows.Hosts;

namespace JailWorkflows.Tests.Definitions;

public sealed class RetryPolicyTests
{
    [Fact]
    public void The_backoff_doubles_per_attempt_and_stops_at_its_cap()
    {
        var policy = new RetryPolicy(6, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(100));
        Assert.Equal([30, 60, 100, 100], Enumerable.Range(2, 4).Select(a => policy.DelayBefore(a).TotalSeconds));
        Assert.Throws<ArgumentOutOfRangeException>(() => policy.DelayBefore(1));
        Assert.Equal("6 attempts, backoff 30 s (max 100 s)", policy.ToString());
        Assert.Equal("never retried", RetryPolicy.Never.ToString());
    }

    [Fact]
    public void A_step_takes_its_activity_default_and_the_fields_its_definition_sets()
    {
        var document = DefinitionLoader.Parse(
            """
            { "id": "x", "version": 1, "steps": [
              { "id": "t", "activity": "TransferPartitions", "retry": { "maxAttempts": 5, "backoffSeconds": 2 } },
              { "id": "s", "activity": "Strip" },
              { "id": "b", "activity": "BuildWorld" } ] }
            """,
            "x.json");
        Assert.Equal(new RetryPolicy(5, TimeSpan.FromSeconds(2), RetryPolicy.Default.MaxBackoff), document.Steps[0].Retry);
        Assert.Equal(RetryPolicy.Default, document.Steps[1].Retry);
        Assert.Equal(RetryPolicy.Never, document.Steps[2].Retry);
    }

    [Fact]
    public void A_bad_retry_object_is_an_error_naming_its_field()
    {
        var ex = Assert.Throws<DefinitionValidationException>(() => DefinitionLoader.Parse(
            """{ "id": "x", "version": 1, "steps": [ { "id": "t", "activity": "Strip", "retry": { "maxAttempts": 0, "tries": 3 } } ] }""", "x.json"));
        Assert.True(ex.Errors.Any(e => e.Field == "steps[0].retry.maxAttempts"), string.Join("\n", ex.Errors));
        Assert.Contains(ex.Errors, e => e.Field == "steps[0].retry.tries");

        var cap = Assert.Throws<DefinitionValidationException>(() => DefinitionLoader.Parse(
            """{ "id": "x", "version": 1, "steps": [ { "id": "t", "activity": "Strip", "retry": { "backoffSeconds": 60, "maxBackoffSeconds": 10 } } ] }""", "x.json"));
        Assert.Equal("steps[0].retry", Assert.Single(cap.Errors).Field);
    }

    [Fact]
    public void Failures_that_need_a_person_are_never_retried()
    {
        Assert.True(Activity.IsRetryable(new ActivityFailedException("restore exited 1", retryable: true)));
        Assert.True(Activity.IsRetryable(new IOException("pipe closed")));
        Assert.False(Activity.IsRetryable(new ActivityFailedException("dump downgraded, -L ignored")));
        Assert.False(Activity.IsRetryable(new HostJobLostException("jailhost", "job-1")));
        Assert.False(Activity.IsRetryable(new HostKeyMismatchException("servera", "SHA256:a", "SHA256:b")));
        Assert.False(Activity.IsRetryable(new JailWorkflows.Plans.PlanValidationException("plan.yaml: servers[0].ssh.address: missing")));
    }
}
