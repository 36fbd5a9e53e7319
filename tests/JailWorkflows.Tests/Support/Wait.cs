using System.Diagnostics;

namespace JailWorkflows.Tests.Support;

/// <summary>Waiting on a condition with a deadline (never a fixed sleep).</summary>
internal static class Wait
{
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what)
        where T : class
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var value = await probe();
            if (value is not null)
            {
                return value;
            }

            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            }

            await Task.Delay(100);
        }
    }

    public static async Task UntilAsync(Func<Task<bool>> probe, TimeSpan timeout, string what)
    {
        await UntilAsync<object>(async () => await probe() ? new object() : null, timeout, what);
    }
}
